"""What a Learner does with its run: evaluate, predict, export, and the pictures
(lr_find, show_batch, plot_top_losses, plot_confusion_matrix). Each calls the code the
command line calls (`jacktf eval`, `jacktf predict`, `jacktf export`, `jacktf lr-find`,
`jacktf show-batch`); the figures are matplotlib Figures, shown inline in Jupyter."""

import logging
import os
from typing import List, NamedTuple

import numpy as np

from jacktf.app import learner_io

log = logging.getLogger('jacktf')
PREDICT_BATCH = 32


class Predictions(NamedTuple):
    """What :meth:`LearnerUse.predict` returns: ``labels`` (N class names, the top-1 of
    each image) and ``probabilities`` (float32 [N, K], columns in ``class_names``
    order)."""
    labels: List[str]
    probabilities: np.ndarray


class LearnerUse:
    """Needs ``experiment``, ``checkpoint``, ``_build``, ``_restored``,
    ``_check_trained`` and ``_serving`` / ``_evaluated`` on the Learner."""

    def evaluate(self, data=None, *, tta=None, top_losses=16):
        """Evaluates the run's checkpoint as `jacktf eval` does, writing the same files
        (metrics.json, confusion_matrix.png, top_losses.png/.csv under MODEL_DIR/eval).

        Args:
          data: DATA as `jacktf eval --model_dir M DATA` takes it: a labelled folder
            (one subfolder per class), split folders (their test/, else val/), a CSV
            of ``path,label[,split]`` or TFRecord files; None: the run's validation
            data (EVAL_FILES). Classes are matched by name.
          tta: test-time augmentation modes ('flip', 'crops', 'flip,crops') or None.
          top_losses: the most confidently wrong examples kept (for plot_top_losses).

        Returns:
          A dict: 'accuracy' (top-1, float), 'top_k' ({k: accuracy} for k >= 2 when
          there are more than 2 classes), 'per_class' ({name: precision, recall, f1,
          support}), 'confusion_matrix' (K x K counts, rows true, columns predicted),
          'class_names', 'examples', 'macro_f1', 'report_path', and the rest of the
          report `jacktf eval` writes.

        Raises:
          DataError: unreadable data, or classes the model does not have.
          ConfigError: no checkpoint yet (call fine_tune first), no EVAL_FILES.
        """
        from jacktf.app import eval_data
        from jacktf.app.evaluation import run_evaluation
        self._check_trained()
        experiment = self._build()
        if data is not None:  # as `jacktf eval --model_dir M DATA`
            eval_data.use_data(experiment, os.fspath(data))
        report, result = run_evaluation(experiment, self.checkpoint, None, tta, top_losses)
        top_k = {int(key.split('_')[1]): value for key, value in report.items()
                 if key.startswith('top_') and key.endswith('_accuracy')
                 and key != 'top_1_accuracy'}
        report = dict(report, accuracy=report['top_1_accuracy'], top_k=top_k)
        self._evaluated = (self._data_key(data), top_losses, report, result)
        return report

    @staticmethod
    def _data_key(data):
        return None if data is None else os.path.abspath(os.fspath(data))

    def _evaluation(self, data, top_losses=0):
        """(report, EvalResult) of ``data``: the last evaluate()'s when it was of the
        same data (and kept enough top losses), else a new one."""
        last = self._evaluated
        if last is None or last[0] != self._data_key(data) or last[1] < top_losses:
            self.evaluate(data, top_losses=max(top_losses, 16))
            last = self._evaluated
        return last[2], last[3]

    def predict(self, images):
        """Classifies images with the run's weights, through the serving signature the
        exported SavedModel has (`jacktf predict` gives the same numbers).

        Args:
          images: an image file path, a uint8 array [H, W, 3] (or [H, W] grayscale), a
            PIL image, a list of these, or a uint8 batch [N, H, W, 3]. Files are sent
            as their own bytes, arrays as lossless PNGs; any size (the model resizes).

        Returns:
          Predictions(labels, probabilities): N class names and float32 [N, K]; for a
          multi-label model, N label sets (lists of the names at or above their tuned
          thresholds, possibly empty) and the sigmoid probabilities [N, K].

        Raises:
          DataError: a missing or unreadable file, an array of another dtype or shape
            (the message names the item).
        """
        import tensorflow as tf
        encoded = [learner_io.encoded(item, i)
                   for i, item in enumerate(learner_io.as_items(images))]
        self._restored()
        outputs = [self._serving.serve_encoded(tf.constant(encoded[i:i + PREDICT_BATCH]))
                   for i in range(0, len(encoded), PREDICT_BATCH)]
        names = self.class_names
        probabilities = np.concatenate([o['probabilities'].numpy() for o in outputs]) \
            if outputs else np.zeros([0, len(names)], np.float32)
        if outputs and 'label_set' in outputs[0]:  # multi-label: the SavedModel's sets
            return Predictions([[n for n in s.decode().split('|') if n]
                                for o in outputs for s in o['label_set'].numpy()],
                               probabilities)
        return Predictions([names[i] for i in probabilities.argmax(1)], probabilities)

    def export(self, formats=(), *, overwrite=False, representative_count=300,
               verify_count=200):
        """Exports the run's checkpoint as `jacktf export` does: a SavedModel in
        MODEL_DIR/export/STEP, and each format asked, verified in its runtime.

        Args:
          formats: e.g. ['tflite:int8', 'onnx'] or 'tflite:float,int8' (the CLI's
            --export values); empty: the SavedModel only.
          overwrite: replace an existing export of the same step.
          representative_count: training images calibrating an int8 model.
          verify_count: validation images each TFLite/ONNX model is checked on.

        Returns:
          The export summary: 'saved_model', 'tflite' / 'onnx' (path, bytes,
          verification) and 'failed' (formats that fell short, not written; a warning
          names them).

        Raises:
          ConfigError: an unknown format, a missing runtime extra; ExportError.
        """
        from jacktf.serve import deploy
        if isinstance(formats, str):
            formats = [formats]
        variants, onnx = deploy.parse_targets(formats)
        self._check_trained()
        summary = deploy.export_run(
            self.experiment, checkpoint=self.checkpoint, tflite_variants=variants,
            onnx=onnx, overwrite=overwrite, representative_count=representative_count,
            verify_count=verify_count)
        for failed in summary.get('failed', []):
            log.warning('%s %s NOT written: %s', failed['format'],
                        failed.get('variant', ''),
                        ', '.join(failed['verification']['shortfalls']))
        return summary

    def lr_find(self, start_lr=1e-7, end_lr=10.0, steps=100):
        """The learning-rate range test of `jacktf lr-find`, from the warm-started
        weights (the Learner's own weights are not touched; nothing is written).
        ``learn.lr_sweep`` keeps the numbers (``.suggestion``, ``.min_loss_lr``).

        Returns:
          A matplotlib Figure: loss against learning rate, the suggestion marked.

        Raises:
          ConfigError: a bad sweep; DataError: bad training data.
        """
        from jacktf.app import lr_find
        from jacktf.train import lr_finder
        experiment = self._build()
        self.lr_sweep = lr_find.sweep(experiment, start_lr=start_lr, end_lr=end_lr,
                                      steps=steps)
        if self.lr_sweep.suggestion is not None:
            log.info('lr_find: the loss falls fastest at %.3g (suggested lr=%.2g)',
                     self.lr_sweep.suggestion, self.lr_sweep.suggestion)
        return learner_io.shown(lr_finder.figure(self.lr_sweep, lr_find.title(experiment)))

    def show_batch(self, count=16):
        """The first training batch after preprocessing and augmentation, mapped back
        to pixels, with its labels (`jacktf show-batch`).

        Returns:
          A matplotlib Figure of ``count`` images (at most a batch).
        """
        from jacktf.train.callbacks import preview
        experiment = self._build()
        experiment.check_input('train')
        pixels, captions, info = preview.batch(experiment, experiment.model, int(count))
        return learner_io.shown(preview.grid_figure(pixels, captions, info['title']))

    def plot_confusion_matrix(self, data=None):
        """The confusion matrix of :meth:`evaluate` on ``data`` (the last evaluation of
        the same data, else a new one): counts and recall side by side.

        Returns:
          A matplotlib Figure.
        """
        from jacktf.evaluation import confusion
        report, _ = self._evaluation(data)
        title = confusion.title_for(accuracy=report['accuracy'],
                                    examples=report['examples'],
                                    source=os.path.basename(str(report['source'])))
        return learner_io.shown(confusion.figure(report['confusion_matrix'],
                                                 report['class_names'], title))

    def plot_top_losses(self, k=9, data=None):
        """The ``k`` most confidently wrong examples of :meth:`evaluate` on ``data``,
        each with its true and predicted class, loss and class activation map.

        Returns:
          A matplotlib Figure (a line saying so when nothing was misclassified).
        """
        from jacktf.evaluation import gallery
        report, result = self._evaluation(data, int(k))
        examples = result.examples[:int(k)]
        title = gallery.title_for(shown=len(examples),
                                  misclassified=result.collector.misclassified,
                                  examples=report['examples'],
                                  source=os.path.basename(str(report['source'])))
        return learner_io.shown(gallery.figure(examples, report['class_names'], title))
