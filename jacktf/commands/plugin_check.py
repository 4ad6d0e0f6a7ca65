"""`jacktf plugins --check NAME`: runs a registered backbone through the plugin contract.

The contract a backbone plugin keeps (docs/guides/plugin-check.md):

1. ``network``: ``net_fn(images, num_classes=None, is_training=True)`` returns
   ``(pooled features, end_points)`` and, with a class count, ``(logits, end_points)``
   of shape [N, num_classes];
2. ``scoped names``: every variable lives under the card's ``scope``;
3. ``end_points``: a dict naming every endpoint the card declares
   (``features_endpoint``, ``cam_endpoint``, ``native_logits_endpoint``);
4. ``arg_scope``: the card's ``arg_scope`` (optional) returns a slim arg_scope dict;
5. ``train``: a few training steps on the demo data, through the real trainer;
6. ``checkpoint``: a fresh model restored from the run's checkpoint computes the
   trained model's logits;
7. ``export``: the SavedModel export (with its parity check);
8. ``predict``: the SavedModel's ``serving_default`` on encoded images gives the
   restored model's probabilities.

Each step is a row of the table: PASS, FAIL (with the reason) or SKIP (a step it
needs failed). Nothing here imports TensorFlow at import time.
"""

import os
import re
import tempfile
import time

STEPS = ('network', 'scoped names', 'end_points', 'arg_scope', 'train', 'checkpoint',
         'export', 'predict')
TRAIN_STEPS = 3
BATCH_SIZE = 4
NUM_CLASSES = 2


class CheckFailed(Exception):
    """A step of the contract does not hold (the message says why)."""


def _raw_network(entry, size, num_classes):
    """(output, end_points, variable names) of the plain slim call in a fresh graph."""
    import tensorflow as tf
    import tf_slim as slim
    card = entry.card
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [2, size, size, 3])
        scope = card.arg_scope() if card.arg_scope else {}
        with slim.arg_scope(scope):
            out = entry.factory(images, num_classes=num_classes, is_training=True)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise CheckFailed(f'{entry.name}(images, num_classes={num_classes}) returned '
                              f'{type(out).__name__}, not (net, end_points)')
        net, end_points = out
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        return net.shape.as_list(), end_points, names


def _network(ctx):
    entry = ctx['entry']
    shape, ctx['end_points'], ctx['names'] = _raw_network(entry, ctx['size'], None)
    if len(shape) not in (2, 4) or (len(shape) == 4 and shape[1:3] != [1, 1]):
        raise CheckFailed(f'the features have shape {shape}; expected pooled [N, 1, 1, C] '
                          'or [N, C]')
    logits, ctx['logits_end_points'], _ = _raw_network(entry, ctx['size'], NUM_CLASSES)
    if logits != [2, NUM_CLASSES]:
        raise CheckFailed(f'the logits have shape {logits}; expected [2, {NUM_CLASSES}]')
    return f'features {shape}, logits {logits}, {len(ctx["names"])} variables'


def _scoped(ctx):
    from jacktf.core import scopes
    scope = ctx['entry'].card.scope
    # global_step is the training counter (NASNet's drop path reads it), not a weight.
    outside = [n for n in ctx['names']
               if n != 'global_step' and not scopes.rule_matches(scope, n)]
    if outside:
        raise CheckFailed(f'{len(outside)} variable(s) outside the scope {scope!r}, e.g. '
                          f'{outside[0]!r}')
    return f'all under {scope}' if scope.startswith('re:') else f'all under {scope}/'


def _end_points(ctx):
    card, points = ctx['entry'].card, ctx['end_points']
    if not isinstance(points, dict):
        raise CheckFailed(f'end_points is a {type(points).__name__}, not a dict')
    wanted = [('features_endpoint', card.features_endpoint, points),
              ('cam_endpoint', card.cam_endpoint, points),
              ('native_logits_endpoint', card.native_logits_endpoint,
               ctx['logits_end_points'])]
    missing = [f'{field}={value!r}' for field, value, found in wanted
               if value and value not in found]
    if missing:
        raise CheckFailed(f'the card names {", ".join(missing)}, not among the '
                          f'{len(points)} end_points ({", ".join(sorted(points)[:6])}, ...)')
    declared = [field for field, value, _ in wanted if value]
    return (f'{len(points)} end_points; declared: {", ".join(declared)}' if declared
            else f'{len(points)} end_points; none declared (optional)')


def _arg_scope(ctx):
    factory = ctx['entry'].card.arg_scope
    if factory is None:
        return 'none declared (optional)'
    scope = factory()
    if not isinstance(scope, dict) or not all(isinstance(k, str) for k in scope):
        raise CheckFailed(f'arg_scope() returned {type(scope).__name__}, not the dict of '
                          'op keys a slim arg_scope is')
    ops = sorted(re.sub(r'^<function (\w+) at .*>$', r'\1', key) for key in scope)
    return f'{len(scope)} ops: {", ".join(ops[:4])}'


def _params(ctx):
    return [f'BACKBONE = @{ctx["entry"].name}', f'IMAGE_SIZE = {ctx["size"]}',
            f'NUM_CLASSES = {NUM_CLASSES}', f'BATCH_SIZE = {BATCH_SIZE}',
            f'TRAIN_STEPS = {TRAIN_STEPS}', 'EVAL_FILES = None',
            'Model.preprocessing = None', 'periodic_eval.every_steps = None',
            f'periodic_checkpoints.every_steps = {TRAIN_STEPS}']


def _experiment(ctx):
    from jacktf.app import runtime
    return runtime.experiment_from_gin(['tiny_from_scratch.gin'], _params(ctx),
                                       ctx['model_dir'])


def _train(ctx):
    import numpy as np
    experiment = _experiment(ctx)
    summary = experiment.run('train')
    if summary.get('stopped_by') or summary.get('step') != TRAIN_STEPS:
        raise CheckFailed(f'the run ended at step {summary.get("step")}, not {TRAIN_STEPS}')
    ctx['model'] = experiment.model
    ctx['export'] = summary.get('export') or os.path.join(
        ctx['model_dir'], 'export', str(TRAIN_STEPS))
    rng = np.random.default_rng(0)
    ctx['batch'] = rng.uniform(-1, 1, [2, ctx['size'], ctx['size'], 3]).astype(np.float32)
    logits = experiment.model.predict(ctx['batch'], training=False)['logits'].numpy()
    if not np.all(np.isfinite(logits)):
        raise CheckFailed(f'the trained logits are not finite: {logits.tolist()}')
    ctx['logits'] = logits
    return f'{TRAIN_STEPS} steps of batch {BATCH_SIZE} on the demo data'


def _checkpoint(ctx):
    import numpy as np
    experiment = _experiment(ctx)
    path = experiment.restore_latest()
    logits = experiment.model.predict(ctx['batch'], training=False)['logits'].numpy()
    diff = float(np.max(np.abs(logits - ctx['logits'])))
    if not diff <= 1e-4:
        raise CheckFailed(f'the restored model\'s logits differ by {diff:.3g}')
    ctx['restored'] = experiment
    return f'{os.path.basename(path)} restores: max |diff| {diff:.2g}'


def _export(ctx):
    if not os.path.isdir(ctx['export']):
        path, _ = ctx['restored'].export()
        ctx['export'] = path
    import tensorflow as tf
    ctx['loaded'] = tf.saved_model.load(ctx['export'])
    signatures = sorted(ctx['loaded'].signatures)
    return f'{ctx["export"]}: {", ".join(signatures)}'


def _predict(ctx):
    import numpy as np
    import tensorflow as tf
    experiment = ctx['restored']
    from jacktf.serve import export as export_lib
    encoded = export_lib.parity_images(experiment.train_files, experiment.decode_fn,
                                       count=2)
    if not encoded:
        raise CheckFailed('no demo image decodes')
    served = ctx['loaded'].signatures['serving_default'](images=tf.constant(encoded))
    probs = served['probabilities'].numpy()
    model = experiment.model
    expected = np.stack([model.postprocess(model.predict(model.preprocess(
        tf.io.decode_image(e, channels=3, expand_animations=False))[None])['logits'])[
        'probabilities'][0].numpy() for e in encoded])
    diff = float(np.max(np.abs(probs - expected)))
    if probs.shape != (len(encoded), NUM_CLASSES) or not diff <= 1e-4:
        raise CheckFailed(f'serving_default gave {probs.shape} probabilities differing '
                          f'from the model\'s by {diff:.3g}')
    return f'{len(encoded)} images: max |diff| {diff:.2g}'


_RUNNERS = dict(zip(STEPS, (_network, _scoped, _end_points, _arg_scope, _train,
                            _checkpoint, _export, _predict)))
# A step runs only when the steps it needs passed.
_NEEDS = {'scoped names': ('network',), 'end_points': ('network',),
          'checkpoint': ('train',), 'export': ('checkpoint',), 'predict': ('export',)}


def check(entry, image_size=None, workdir=None, steps=STEPS):
    """Runs the contract on the backbone ``entry``.

    Args:
      entry: the registry Entry of a backbone.
      image_size: the input size (default: the card's default_image_size).
      workdir: where the run's model directory goes (default: a temporary folder).
      steps: the steps to run, a subset of STEPS (default: all); e.g. STEPS[:4], the
        graph-only checks of the card, which train nothing.

    Returns:
      [(step, 'PASS'|'FAIL'|'SKIP', seconds, detail)] in the order of STEPS.
    """
    size = int(image_size or entry.card.default_image_size)
    with tempfile.TemporaryDirectory(prefix='jacktf-check-', dir=workdir) as tmp:
        ctx = {'entry': entry, 'size': size, 'model_dir': os.path.join(tmp, 'run')}
        rows, passed = [], set()
        for step in (s for s in STEPS if s in steps):
            blocked = [need for need in _NEEDS.get(step, ()) if need not in passed]
            if blocked:
                rows.append((step, 'SKIP', 0.0, f'needs {blocked[0]}'))
                continue
            start = time.time()
            try:
                detail, result = _RUNNERS[step](ctx), 'PASS'
                passed.add(step)
            except Exception as e:  # noqa: BLE001 - each failure is a row of the table
                text = str(e).strip().splitlines()[0] if str(e).strip() else ''
                detail, result = f'{type(e).__name__}: {text}'[:400], 'FAIL'
            rows.append((step, result, time.time() - start, detail))
    return rows


def table(name, size, rows):
    """The readable table of ``check``'s rows."""
    width = max(len(step) for step in STEPS)
    lines = [f'Plugin contract of backbone {name} at {size}x{size}:',
             f'{"STEP":<{width}}  RESULT  SECONDS  DETAIL']
    lines += [f'{step:<{width}}  {result:<6}  {seconds:7.1f}  {detail}'
              for step, result, seconds, detail in rows]
    failed = [row[0] for row in rows if row[1] != 'PASS']
    lines.append(f'{name}: the contract holds ({sum(r[2] for r in rows):.0f} s).'
                 if not failed else f'{name}: {len(failed)} step(s) failed or were '
                 f'skipped: {", ".join(failed)}.')
    return '\n'.join(lines)
