"""The files of a run's input and model directory: the class names of TRAIN_FILES
(checked against NUM_CLASSES), MODEL_DIR/labels.txt, and the input check every mode
runs before it writes anything (a mixin of the Experiment)."""

import logging
import os

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.core.files import write_atomic
from jacktf.data import label_match, pipeline, preflight
from jacktf.pretrained import builtin
from jacktf.serve import export

log = logging.getLogger('jacktf')


class RunFiles:
    """Needs ``model``, ``model_dir``, ``train_files``, ``eval_files``, ``decode_fn``
    and ``decoder_name`` on the class it is mixed into."""

    def _class_names(self):
        """Class names of TRAIN_FILES (labels.txt or class folders), checked; or None."""
        names = pipeline.labels_for(self.train_files)
        if names is None or len(names) == self.model.num_classes:
            return names
        first = pipeline.list_files(self.train_files)[0]
        source = f'The image folder {first} has {len(names)} class folders' if \
            tf.io.gfile.isdir(first) else \
            f'labels.txt next to {self.train_files} lists {len(names)} classes'
        raise ConfigError(f'{source} ({", ".join(names[:10])}'
                          f'{", ..." if len(names) > 10 else ""}) but NUM_CLASSES is '
                          f'{self.model.num_classes}. Set NUM_CLASSES = {len(names)}.')

    def copy_labels(self):
        """Writes MODEL_DIR/labels.txt (when TRAIN_FILES name classes); returns the names."""
        names = self._class_names()
        if names is None:
            return None
        path = os.path.join(self.model_dir, 'labels.txt')
        text = '\n'.join(names) + '\n'
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                if f.read() == text:
                    return names
        write_atomic(path, text)
        return names

    def check_input(self, mode='train_and_eval'):
        """Checks the input files (and labels.txt) of ``mode``; writes nothing.

        Raises:
          DataError / ConfigError: naming the file, the cause and the fix.
        """
        train = eval_ = ()
        if mode != 'eval':
            train = preflight.check_input(self.train_files, self.decode_fn,
                                          setting='TRAIN_FILES', decoder=self.decoder_name)
            self._class_names()
        if self.eval_files and mode != 'train':
            eval_ = preflight.check_input(self.eval_files, self.decode_fn,
                                          setting='EVAL_FILES', decoder=self.decoder_name)
            if mode != 'eval':  # by name: a missing or extra class is never mislabelled
                self.eval_label_map = label_match.label_map(
                    self._class_names(), pipeline.labels_for(self.eval_files),
                    source=self.eval_files, labels_path='TRAIN_FILES')
        shared = sorted(set(map(os.path.abspath, train)) & set(map(os.path.abspath, eval_)))
        if shared:
            log.warning('EVAL_FILES and TRAIN_FILES share %d file(s) (%s%s): the eval '
                        'accuracy is then measured on training data. Give each split its '
                        "own files, e.g. 'DIR/train-*.tfrecord' and "
                        "'DIR/validation-*.tfrecord'.", len(shared), shared[0],
                        ', ...' if len(shared) > 1 else '')

    def class_names(self):
        """(names, labels.txt path or None): the model directory's labels.txt, else the
        ImageNet names for a native head of the official class count, else indexes."""
        names, path = export.read_labels(self.model_dir, self.model.num_classes)
        if path is None and self.model.native and \
                self.model.num_classes == self.model.card.num_classes_official:
            names = builtin.official_class_names(self.model.num_classes) or names
        return names, path
