"""The "unknown" answer: scores and threshold calibration exact on synthetic logits,
the calibration file beside the checkpoint, predict's answer line; one slow end-to-end
run (fine-tune -> calibrate -> export -> predict) in this process."""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.core.errors import ConfigError
from jacktf.evaluation import unknown


def _logits(margins):
    """Two-class logits [m, 0]: max_logit m, energy log(e^m + 1), max_softmax
    1 / (1 + e^-m)."""
    return np.stack([np.asarray(margins, np.float32), np.zeros(len(margins), np.float32)], 1)


def test_scores_are_the_known_formulas_and_tf_agrees():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-3.0, 4.0, 1.0]], np.float32)
    expected = {'max_logit': [2.0, 0.5, 4.0],
                'energy': np.log(np.exp(logits.astype(np.float64)).sum(1)),
                'max_softmax': [np.exp(2) / (np.exp(2) + 1 + np.exp(-1)), 1 / 3,
                                np.exp(4) / (np.exp(-3) + np.exp(4) + np.exp(1))]}
    for kind in unknown.SCORES:
        got = unknown.scores(logits, kind)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected[kind], rtol=1e-6)
        np.testing.assert_allclose(unknown.tf_scores(tf.constant(logits), kind).numpy(),
                                   got, rtol=1e-6)


def test_threshold_keeps_exactly_the_chosen_share():
    margins = np.arange(1, 21, dtype=np.float32)  # 20 images, margins 1..20, shuffled
    logits = _logits(np.random.default_rng(0).permutation(margins))
    cal = unknown.calibrate(logits, keep=0.95, score='max_logit', source={'checkpoint': 'c'})
    # ceil(0.95 * 20) = 19 kept: the threshold is the 19th largest margin, 2.0.
    assert cal['threshold'] == 2.0 and cal['thresholds']['max_logit'] == 2.0
    assert cal['validation_flagged'] == 0.05 and cal['validation_images'] == 20
    # The other scores of that image (float32 arithmetic: to the last bit or so).
    assert cal['thresholds']['energy'] == pytest.approx(np.log(np.exp(2.0) + 1), rel=2e-7)
    assert cal['thresholds']['max_softmax'] == pytest.approx(1 / (1 + np.exp(-2.0)),
                                                             rel=2e-7)
    assert cal['checkpoint'] == 'c' and cal['score'] == 'max_logit'
    assert cal['rule'] == 'unknown when the largest logit < 2'
    flags = unknown.is_unknown(unknown.scores(logits, 'max_logit'), cal['threshold'])
    assert flags.sum() == 1 and logits[flags][0, 0] == 1.0
    # Every score flags the same image (they are monotonic in the margin here).
    for kind in unknown.SCORES:
        assert (unknown.is_unknown(unknown.scores(logits, kind),
                                   cal['thresholds'][kind]) == flags).all()
    # keep * N not whole: more are kept, never fewer (ceil(0.95 * 10) = 10: the minimum).
    assert unknown.threshold_for(np.arange(10), 0.95) == 0.0
    assert unknown.threshold_for(np.arange(10), 0.5) == 5.0
    assert unknown.threshold_for(np.arange(10), 1.0) == 0.0
    assert unknown.threshold_for([3.0], 0.01) == 3.0
    # Ties: every tied image is kept (flagged: strictly below).
    assert unknown.threshold_for([1, 1, 1, 1, 0], 0.6) == 1.0


@pytest.mark.parametrize('keep, score', [(0, 'energy'), (1.5, 'energy'), ('x', 'energy'),
                                         (0.95, 'entropy')])
def test_bad_options_say_what_to_give(keep, score):
    with pytest.raises(ConfigError) as e:
        unknown.check_options(keep, score)
    assert ('max_softmax' in str(e.value)) if score == 'entropy' else (
        '(0, 1]' in str(e.value))


def test_calibration_lives_beside_its_checkpoint(tmp_path):
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    for step in (10, 20):
        (folder / f'ckpt-{step}.index').write_bytes(b'')
    first = unknown.calibrate(_logits([1, 2, 3]), keep=1.0, score='energy')
    path = unknown.write(str(folder / 'ckpt-10'), first)
    assert path == str(folder / 'unknown.json')
    assert unknown.read(str(folder / 'ckpt-10')) == json.loads(json.dumps(first))
    assert unknown.read(str(folder / 'ckpt-20')) is None
    (folder / 'ckpt-10.index').unlink()  # the manager dropped ckpt-10
    unknown.write(str(folder / 'ckpt-20'), first)
    assert sorted(json.loads((folder / 'unknown.json').read_text())) == ['ckpt-20']
    (folder / 'unknown.json').write_text('{not json')
    with pytest.raises(ConfigError, match='jacktf calibrate'):
        unknown.read(str(folder / 'ckpt-20'))


def test_probability_section_for_tflite_and_onnx():
    cal = unknown.calibrate(_logits(np.arange(1, 21)), keep=0.95, score='energy')
    section = unknown.probability_rule(cal)
    assert section['score'] == 'max_softmax'
    assert section['threshold'] == cal['thresholds']['max_softmax']
    assert section['saved_model_score'] == {'score': 'energy', 'threshold': cal['threshold']}
    assert unknown.describe(section).startswith(
        'Unknown answer: unknown when the largest probability < 0.8807970')
    assert 'keep 95% of 20 validation images' in unknown.describe(section)


def test_predict_answers_unknown_with_the_closest_class(capsys):
    from jacktf.commands import calibrate, predict_output
    assert set(calibrate.SCORES) == set(unknown.SCORES)
    rows = [{'file': 'a.png', 'unknown': True, 'predictions': [
                {'class_name': 'cat', 'probability': 0.4123},
                {'class_name': 'dog', 'probability': 0.35}]},
            {'file': 'b.png', 'unknown': False, 'predictions': [
                {'class_name': 'dog', 'probability': 0.9}, {'class_name': 'cat',
                                                            'probability': 0.1}]}]
    predict_output.print_table(rows)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split(None, 1) == ['a.png', 'unknown (closest: cat 0.41)']
    assert lines[2].split() == ['cat', '0.4123'] and lines[4].split()[:2] == ['b.png', 'dog']
    assert len(lines) == 6


def test_calibrate_refuses_a_bad_keep_with_exit_2(tmp_path, capsys):
    from jacktf import cli
    with pytest.raises(SystemExit) as e:
        cli.main(['calibrate', '--model_dir', str(tmp_path), '--keep', '1.5'])
    assert e.value.code == 2
    assert "'1.5' is not a share in (0, 1]" in capsys.readouterr().err


# -- end to end ---------------------------------------------------------------------

def _main(args, capsys):
    from jacktf import cli
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    finally:
        logging.getLogger('jacktf').handlers.clear()
    out = capsys.readouterr()
    return code, out.out, out.err


def _folders(root, rng):
    """Stripes vs dots as image folders: 24 training and 40 validation images, 48x48."""
    from jacktf.data import demo
    for split, count in (('train', 24), ('validation', 40)):
        for i in range(count):
            folder = os.path.join(root, split, demo.CLASSES[i % 2])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(demo.render(rng, 48, i % 2)).save(f'{folder}/{i}.png')


def _smile():
    """A drawing of a face on beige paper: nothing like stripes or dots."""
    from PIL import ImageDraw
    image = Image.new('RGB', (64, 64), (200, 180, 140))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 56, 56), outline=(0, 0, 0), width=3)
    draw.arc((20, 24, 44, 48), 20, 160, fill=(0, 0, 0), width=3)
    return np.asarray(image)


@pytest.mark.slow
def test_fine_tune_calibrate_export_predict_unknown(tmp_path, capsys):
    """A tiny fine-tune of the shipped MobileNet v1 0.25 on stripes vs dots: the end of
    training calibrates (keep 95%) and exports; `jacktf calibrate --keep 0.5` calibrates
    again and `jacktf export --overwrite` exports it; the SavedModel's is_unknown and
    ood_score equal the checkpoint's on in- and out-of-distribution images, and predict
    answers "unknown (closest: ...)" for a drawing of a face (--no_unknown: the class)."""
    from jacktf.app import runtime
    from jacktf.data import demo
    rng = np.random.default_rng(0)
    _folders(str(tmp_path / 'data'), rng)
    model_dir = str(tmp_path / 'run')
    params = [f"TRAIN_FILES = '{tmp_path}/data/train'",
              f"EVAL_FILES = '{tmp_path}/data/validation'", "Experiment.decoder = 'image_folder'",
              'IMAGE_SIZE = 32', 'TRAIN_STEPS = 40', 'BATCH_SIZE = 8', 'LEARNING_RATE = 0.1',
              'periodic_eval.every_steps = None', 'Experiment.preview_images = 0',
              # the seeded run whose drawing lands beyond the threshold (trained with the
              # flip; without it the drawing's score sits inside, which is a property of
              # this one tiny model and not of the calibration tested here)
              'Model.flip = True']
    runtime.experiment_from_gin(['gin/demo.gin'], params, model_dir).run('train')
    checkpoint = os.path.join(model_dir, 'checkpoints', 'ckpt-40')
    first = unknown.read(checkpoint)
    assert first['score'] == unknown.DEFAULT_SCORE and first['keep'] == 0.95
    assert first['validation_images'] == 40 and first['validation_flagged'] == 0.05
    code, out, err = _main(['calibrate', '--model_dir', model_dir, '--keep', '0.5'], capsys)
    assert code == 0, err
    assert 'keeps 50.0% of 40 validation images' in out
    code, _, err = _main(['export', '--model_dir', model_dir, '--overwrite'], capsys)
    assert code == 0, err
    cal = unknown.read(checkpoint)
    assert cal['keep'] == 0.5 and cal['threshold'] > first['threshold']
    paths = []
    for i, image in enumerate([demo.render(rng, 48, 0), demo.render(rng, 48, 1), _smile()]):
        paths.append(str(tmp_path / f'{i}.png'))
        Image.fromarray(image).save(paths[-1])
    encoded = [open(p, 'rb').read() for p in paths]
    loaded = tf.saved_model.load(os.path.join(model_dir, 'export', '40'))
    served = loaded.signatures['serving_default'](images=tf.constant(encoded))
    assert {'probabilities', 'classes', 'top_k_classes', 'ood_score',
            'is_unknown'} <= set(served)
    assert served['is_unknown'].dtype == tf.bool and served['ood_score'].dtype == tf.float32
    experiment = runtime.experiment_from_gin(
        [os.path.join(model_dir, 'operative_config.gin')], (), model_dir)
    experiment.restore_latest()
    model = experiment.model
    logits = np.concatenate([model.predict(model.preprocess(tf.io.decode_image(
        e, channels=3), training=False)[None])['logits'].numpy() for e in encoded])
    scores = unknown.scores(logits, cal['score'])
    np.testing.assert_allclose(served['ood_score'].numpy(), scores, rtol=1e-4, atol=1e-4)
    assert np.abs(scores - cal['threshold']).min() > 1e-3  # no image on the edge
    np.testing.assert_array_equal(served['is_unknown'].numpy(),
                                  unknown.is_unknown(scores, cal['threshold']))
    assert served['is_unknown'].numpy()[2]  # the drawing
    code, out, err = _main(['predict', '--model', model_dir] + paths, capsys)
    assert code == 0, err
    top = served['probabilities'].numpy()[2]
    name = served['class_names'].numpy()[2].decode()
    assert f'{paths[2]}  unknown (closest: {name} {top.max():.2f})' in out
    assert out.count('unknown (closest') == int(served['is_unknown'].numpy().sum())
    code, out, err = _main(['predict', '--no_unknown', '--model', model_dir, paths[2]], capsys)
    assert code == 0 and 'unknown' not in out and name in out
