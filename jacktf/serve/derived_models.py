"""The TFLite and ONNX models of an export, derived from the same weights as its
SavedModel: converted, run in their own runtime (LiteRT, onnxruntime) on held-out
images, compared with the SavedModel, and written with a card (``model_card``) that
says how a client feeds them and how well they agree.

``deploy.export_all`` calls ``derive`` and publishes its staging folders only when
every model passed.
"""

import json
import os

import tensorflow as tf

from jacktf.serve import (client_preprocessing, client_test, mediapipe_check, model_card,
                          onnx_export, saved_models, staging, tflite, tflite_metadata,
                          verify)
from jacktf.serve import derived_cards as cards
from jacktf.serve.export import ExportError


def derive(model, targets, folders, reference_path, tflite_variants, onnx,
             verify_set, verify_source, representative, representative_source, limits,
             registry, class_names, source, unknown=None):
    """Converts, checks and stages the TFLite and ONNX models; their summary entries.

    Each model is run in its own runtime on ``verify_set`` (encoded images, labels or
    None) and compared with the SavedModel at ``reference_path``; its file and card are
    written into a staging folder added to ``folders`` (``deploy.export_all`` publishes
    or discards them), with labels.txt and client_test.json.

    A model that falls short of its thresholds is not written; the others are.
    ``unknown`` (a calibration, or None): each card gets the ``unknown`` section of a
    probabilities-only model (``unknown.probability_rule``), and the TFLite metadata
    description its sentence.

    Returns:
      {'tflite': [entry, ...], 'onnx': entry, 'failed': [entry, ...]}: file, path (not
      for the failed), bytes, verification; a failed entry also has ``flag``, the
      command-line option that writes it anyway.

    Raises:
      ExportError: every model fell short (every model's numbers given).
    """
    section = cards.client_section(model, registry)
    prepare = client_preprocessing.client_function(section, registry)
    normalize = client_preprocessing.normalizer(model) if section['input'] == 'pixels' \
        else None
    verify_images, labels = verify_set
    _, serve = saved_models.load_saved_model(reference_path)
    reference = _serve(serve, verify_images)
    inputs = [prepare(data) for data in verify_images]
    common = {'class_names': class_names, 'model': model, 'registry': registry,
              'normalize': normalize, 'source': source, 'verify_source': verify_source,
              'labels': labels, 'unknown': unknown}
    tflite_common = dict(common, encoded=verify_images)
    results = []
    if tflite_variants:
        folders['tflite'] = staging.staging_dir(targets['tflite'])
        calibration = [prepare(data) for data in representative]
        for variant in tflite_variants:
            results.append(_tflite(variant, folders['tflite'], reference, inputs,
                                   calibration, representative_source, limits[variant],
                                   **tflite_common))
    if onnx:
        folders['onnx'] = staging.staging_dir(targets['onnx'])
        results.append(_onnx(folders['onnx'], reference, inputs, limits['onnx'], **common))
    failed = [r for r in results if r['verification']['shortfalls']]
    if len(failed) == len(results):
        raise ExportError(_failure_message(results, failed, verify_source))
    for key in ('tflite', 'onnx'):  # a folder whose every model fell short is not written
        if key in folders and all(r in failed for r in results if r['format'] == key):
            staging.discard(folders.pop(key))
        elif key in folders:
            model_card.write_labels(folders[key], class_names)
            _write_client_test(folders[key], verify_images, reference, section,
                               [r for r in results if r['format'] == key and
                                r not in failed], class_names)
    return _summary(results, failed, targets)


def _summary(results, failed, targets):
    """derive's return value: the written entries with their paths, and the failed ones
    with the flag that writes them."""
    for r in results:
        r.pop('_probabilities', None)
        r.pop('_input', None)
    out = {'tflite': [], 'failed': [dict(r, flag=verify.override_flag(
        r['variant'] if r['format'] == 'tflite' else 'onnx', r['verification']))
        for r in failed]}
    for r in results:
        if r not in failed:
            entry = dict(r, path=os.path.join(targets[r['format']], r['file']))
            if r['format'] == 'onnx':
                out['onnx'] = entry
            else:
                out['tflite'].append(entry)
    return out


def _write_client_test(folder, encoded, reference, section, passed, class_names):
    """client_test.json: a few held-out images with each written model's expected
    answers (and the SavedModel's)."""
    chosen = client_test.choose(encoded)
    entries = {'saved_model': ('saved_model', reference[chosen], None)}
    for r in passed:
        entries[r['file']] = (r['variant'] if r['format'] == 'tflite' else 'onnx',
                              r['_probabilities'][chosen], r['_input'])
    client_test.write(folder, client_test.build([encoded[i] for i in chosen], section,
                                                entries, class_names))


def _serve(serve, encoded, batch=32):
    import numpy as np
    return np.concatenate([serve(images=tf.constant(list(encoded[i:i + batch])))[
        'probabilities'].numpy() for i in range(0, len(encoded), batch)])


def _tflite(variant, folder, reference, inputs, calibration, calibration_source, limits, *,
            class_names, model, registry, normalize, source, verify_source, encoded, labels,
            unknown):
    file = f'{variant}.tflite'
    flat = tflite.convert(model, variant, calibration, normalize)
    card = cards.base_card('tflite', variant, file, model=model, class_names=class_names,
                      registry=registry, source=source, unknown=unknown)
    card['input'], card['output'] = cards.io_sections(tflite.interpreter(flat))
    if variant == 'int8':
        card['representative'] = {'images': len(calibration),
                                  'source': calibration_source,
                                  'preprocessing': 'eval (as in the card)',
                                  'weights': 'int8 per output channel (per-axis)'}
    cards.with_quantization_steps(card)
    flat = tflite.embed_metadata(flat, {
        tflite.CARD_KEY: json.dumps(card), tflite.LABELS_KEY: '\n'.join(class_names)})
    flat = tflite_metadata.populate(flat, cards.metadata_info(card, model),
                                    '\n'.join(class_names) + '\n')
    import numpy as np
    got = tflite.run(tflite.interpreter(flat), np.stack(inputs))
    if card['preprocessing'].get('input') == 'pixels':
        card['mediapipe'] = mediapipe_check.check(flat, encoded, reference,
                                                  card['preprocessing'], class_names)
    return _finish(card, flat, folder, (reference, labels), got, limits, verify_source,
                   f'LiteRT interpreter (ai-edge-litert {tflite.litert_version()})')


def _onnx(folder, reference, inputs, limits, *, class_names, model, registry, normalize,
          source, verify_source, labels, unknown):
    import numpy as np
    file = 'model.onnx'
    card = cards.base_card('onnx', f'float32, opset {onnx_export.OPSET}', file, model=model,
                      class_names=class_names, registry=registry, source=source,
                      unknown=unknown)
    size = model.image_size
    card['input'] = model_card.tensor_section('images', [1, size, size, 3], 'float32',
                                              batch_dynamic=True)
    card['output'] = model_card.tensor_section('probabilities', [1, len(class_names)],
                                               'float32', batch_dynamic=True)
    card['converter'] = {k: v for k, v in onnx_export.versions().items()
                         if k != 'onnxruntime'}
    data = onnx_export.convert(model, {onnx_export.CARD_KEY: json.dumps(card),
                                       onnx_export.LABELS_KEY: '\n'.join(class_names)},
                               normalize=normalize)
    sess = onnx_export.session(data)
    got = onnx_export.run(sess, np.stack(inputs))
    return _finish(card, data, folder, (reference, labels), got, limits, verify_source,
                   f'onnxruntime {onnx_export.versions()["onnxruntime"]}')


def _finish(card, data, folder, reference, got, limits, verify_source, runtime):
    """Compares, completes the card with the numbers and, when it passed, writes the
    model and its card. ``reference``: (SavedModel probabilities, true labels)."""
    reference, labels = reference
    stats = verify.compare(reference, got)
    stats.update(verify.accuracies(reference, got, labels))
    missed = verify.shortfalls(stats, limits)
    client = card.get('mediapipe', {}).get('defaults')
    if client and not client['names_from_labels']:
        missed.append('MediaPipe ImageClassifier returned no labels.txt names')
    card['bytes'] = len(data)
    card['verification'] = dict(
        stats, runtime=runtime, reference='the float SavedModel (serving_default on the '
        'same image files)', images_from=verify_source, thresholds=dict(limits),
        passed=not missed, shortfalls=missed)
    if not missed:
        with open(os.path.join(folder, card['file']), 'wb') as f:
            f.write(data)
        model_card.write_json(os.path.join(folder, model_card.card_path(card['file'])),
                              card)
    return {'format': card['model_format'], 'variant': card['variant'],
            'file': card['file'], 'bytes': len(data), 'verification': card['verification'],
            '_probabilities': got, '_input': card['input']}


def display_name(result):
    """'TFLite int8' or 'ONNX': how messages name a derived model."""
    return (f'TFLite {result["variant"]}' if result['format'] == 'tflite' else 'ONNX')


def _failure_message(results, failed, verify_source):
    lines = '; '.join(
        f'{display_name(r)}: {verify.describe(r["verification"])}'
        f'{" - FAILS: " + ", ".join(r["verification"]["shortfalls"]) if r in failed else " - ok"}'
        for r in results)
    flags = ', '.join(verify.override_flag(
        r['variant'] if r['format'] == 'tflite' else 'onnx', r['verification'])
        for r in failed)
    return (f'{len(failed)} of the {len(results)} exported models fell short of the float '
            f'SavedModel on {verify_source}, so nothing was written. {lines}. The SavedModel '
            'itself is fine; a quantized model that disagrees may need more or more typical '
            'representative images (--representative_count); to write them anyway accept '
            f'what was measured: {flags}.')
