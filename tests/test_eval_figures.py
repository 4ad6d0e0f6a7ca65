"""The eval pictures and the top-losses collector, checked by their values and pixels
(no training: synthetic numbers and photos)."""

import csv

import numpy as np
import pytest

from jacktf.evaluation import cam, confusion, figures, gallery, top_losses, tta
from jacktf.evaluation.collect import EvalCollector
from jacktf.core.errors import ConfigError


def test_top_losses_streams_and_keeps_only_the_worst_wrong_examples():
    rng = np.random.default_rng(0)
    collector = EvalCollector(4, top_losses=5)
    all_labels, all_probs, fetched = [], [], []
    for batch in range(12):
        logits = rng.normal(0, 3, (16, 4))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        labels = rng.integers(0, 4, 16)
        names = [f'b{batch}_{i}.jpg' for i in range(16)]

        class Inputs:  # records which pictures the collector reads
            def __getitem__(self, i, batch=batch):
                fetched.append((batch, i))
                return np.full((2, 2, 3), i, np.uint8)
        collector.add(labels=labels, probabilities=probs, inputs=Inputs(),
                      filenames=[n.encode() for n in names], records=names)
        all_labels.append(labels)
        all_probs.append(probs)
    labels, probs = np.concatenate(all_labels), np.concatenate(all_probs)
    loss = -np.log(probs[np.arange(len(labels)), labels])
    wrong = np.flatnonzero(probs.argmax(1) != labels)
    expected = wrong[np.argsort(-loss[wrong])][:5]
    examples = collector.examples()
    assert [e['filename'] for e in examples] == [f'b{i // 16}_{i % 16}.jpg'
                                                 for i in expected]
    assert [e['loss'] for e in examples] == pytest.approx(loss[expected])
    assert collector.misclassified == len(wrong)
    assert collector.confusion.sum() == len(labels)
    assert np.array_equal(np.diag(collector.confusion),
                          np.bincount(labels[probs.argmax(1) == labels], minlength=4))
    # Pictures are read only for examples that entered the list, never for all.
    assert 5 <= len(fetched) < len(wrong)
    assert all(e['image'].dtype == np.uint8 for e in examples)


def test_top_losses_csv_says_when_file_names_are_unknown(tmp_path):
    collector = EvalCollector(2, top_losses=3)
    collector.add(labels=[0, 1, 0], probabilities=[[0.1, 0.9], [0.8, 0.2], [0.7, 0.3]],
                  inputs=np.zeros((3, 2, 2, 3), np.float32), filenames=[b'', b'', b''],
                  records=['f record 0', 'f record 1', 'f record 2'])
    path = top_losses.write_csv(collector.examples(), ['cat', 'dog'],
                                str(tmp_path / 'top.csv'))
    rows = list(csv.DictReader(open(path)))
    assert [r['record'] for r in rows] == ['f record 0', 'f record 1']
    assert all(r['filename'] == top_losses.UNKNOWN_NAME for r in rows)
    assert rows[0]['true_label'] == 'cat' and rows[0]['predicted_label'] == 'dog'
    assert float(rows[0]['loss']) == pytest.approx(-np.log(0.1), abs=1e-5)


def test_confusion_matrix_picture_scales_from_2_to_100_classes():
    assert np.allclose(confusion.normalized([[3, 1], [0, 0]]), [[0.75, 0.25], [0, 0]])
    shapes = {}
    for k in (2, 20, 100):
        matrix = np.eye(k, dtype=np.int64) * 5 + 1
        names = [f'a_long_class_name_number_{i:03d}' for i in range(k)]
        picture = confusion.picture(matrix, names, confusion.title_for(
            accuracy=0.5, examples=int(matrix.sum()), step=7))
        shapes[k] = picture.shape
        assert picture.dtype == np.uint8 and picture.shape[2] == 3
        # Two panels side by side: wider than high; the diagonal is dark in both.
        assert picture.shape[1] > picture.shape[0]
    assert shapes[2][1] < shapes[20][1] < shapes[100][1] <= 4500
    assert shapes[2][1] >= 600  # two classes still get a readable picture
    # Cut names keep both ends, so names differing at the end stay different.
    assert len({figures.short(f'a_long_class_name_number_{i:03d}') for i in range(100)}) \
        == 100
    assert confusion.title_for(accuracy=0.875, examples=40, step=600) == \
        'Confusion matrix \u2014 step 600 \u2014 top-1 accuracy 0.8750 on 40 examples'


def test_cam_picture_has_caption_scale_and_a_readable_photo():
    photo = np.full((64, 64, 3), 128, np.uint8)
    heat = np.zeros((4, 4), np.float32)
    heat[0, 3] = 5.0  # hot in the top right corner
    picture = cam.overlay_picture(photo, heat, 'tabby 0.93')
    w_px, h_px, width, height = cam.picture_layout(64, 64)
    assert picture.shape == (height, width, 3) and (w_px, h_px) == (256, 256)
    x0, y0 = cam.PAD_PX, height - cam.PAD_PX - h_px  # the photo's top left corner
    hot = picture[y0 + 16, x0 + w_px - 16].astype(int)
    cold = picture[y0 + h_px - 16, x0 + 16].astype(int)
    assert hot[0] - hot[2] > 50 and hot[0] - hot[1] > 50, hot  # tinted (dark) red
    assert np.abs(cold - 128).max() <= 3  # the photo untouched where it is cold
    caption = picture[y0 + 3:y0 + 18, x0 + 3:x0 + 60].astype(int)
    assert caption.min() < 60 and caption.max() > 200  # white text on a dark box
    # The colour scale right of the photo: dark red at the top, dark blue at the bottom.
    column = picture[:, x0 + w_px + 12 + 7].astype(int)
    rows = np.flatnonzero(np.abs(column - 255).sum(1) > 30)
    top, bottom = column[rows[2]], column[rows[-3]]
    assert top[0] > 100 and top[2] < 60, top
    assert bottom[2] > 100 and bottom[0] < 60, bottom


def test_gallery_shows_each_example_with_its_map():
    rng = np.random.default_rng(1)
    examples = [dict(image=rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                     cam=rng.random((4, 4)), label=0, predicted=1, probability=0.9,
                     probability_true=0.1, loss=2.3, filename=f'cat/{i}.jpg', record='r')
                for i in range(4)]
    picture = gallery.picture(examples, ['cat', 'dog'], 'Top losses')
    two_rows = gallery.picture(examples[:3], ['cat', 'dog'], 'Top losses')
    assert picture.shape[0] > two_rows.shape[0]  # 4 examples: a second row
    assert picture.shape[1] == two_rows.shape[1]  # 3 examples (photo + CAM) per row
    empty = gallery.picture([], ['cat', 'dog'], 'Top losses')
    assert empty.shape[0] < 200


def test_tta_views_and_modes():
    import tensorflow as tf
    image = tf.constant(np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3))
    flip = tta.views(image, ('flip',))
    assert len(flip) == 2 and np.array_equal(flip[1].numpy(), image.numpy()[:, ::-1])
    both = tta.views(image, ('flip', 'crops'))
    assert len(both) == tta.count(('flip', 'crops')) == 10
    assert np.array_equal(both[0].numpy(), image.numpy())
    assert both[2].shape == (7, 9, 3)  # 0.875 of 8 x 10, top left
    assert np.array_equal(both[8].numpy(), image.numpy()[1:, 1:])  # bottom right
    assert tta.parse('crops, flip') == ('flip', 'crops') and tta.parse(None) is None
    with pytest.raises(ConfigError, match="unknown mode 'mirror'"):
        tta.parse('mirror')


def test_unknown_tta_mode_is_a_user_error(tmp_path, capsys):
    from jacktf import cli
    with pytest.raises(SystemExit) as stop:
        cli.main(['predict', '--saved_model', str(tmp_path), '--tta', 'mirror',
                  str(tmp_path / 'x.png')])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "jacktf: error: --tta 'mirror': unknown mode 'mirror'" in err
    assert 'flip,crops' in err and 'Traceback' not in err
