"""Checkpoint policy: the rolling CheckpointManager and the best-k by eval accuracy."""

import json
import logging
import os

import tensorflow as tf

log = logging.getLogger('jacktf')


def checkpoint_manager(checkpoint, model_dir, trainer):
    return tf.train.CheckpointManager(
        checkpoint, os.path.join(model_dir, 'checkpoints'), max_to_keep=trainer.max_to_keep,
        keep_checkpoint_every_n_hours=trainer.keep_checkpoint_every_n_hours)


class BestCheckpoints:
    """Keeps the k checkpoints with the best eval accuracy in MODEL_DIR/best."""

    def __init__(self, model_dir, k, checkpoint):
        self.k, self.checkpoint = k, checkpoint
        self.directory = os.path.join(model_dir, 'best')
        self.index = os.path.join(self.directory, 'best.json')
        self.entries = []
        if k and tf.io.gfile.exists(self.index):
            with tf.io.gfile.GFile(self.index) as f:
                self.entries = json.load(f)

    def consider(self, step, accuracy):
        if not self.k or any(e['step'] == step for e in self.entries):
            return
        if len(self.entries) >= self.k and accuracy <= self.entries[-1]['accuracy']:
            return
        path = self.checkpoint.write(os.path.join(self.directory, f'ckpt-{step}'))
        self.entries.append({'step': step, 'accuracy': float(accuracy), 'checkpoint': path})
        self.entries.sort(key=lambda e: (-e['accuracy'], e['step']))
        for dropped in self.entries[self.k:]:
            for f in tf.io.gfile.glob(dropped['checkpoint'] + '.*'):
                tf.io.gfile.remove(f)
        self.entries = self.entries[:self.k]
        with tf.io.gfile.GFile(self.index, 'w') as f:
            json.dump(self.entries, f, indent=2)
        log.info('best checkpoints by eval accuracy: %s', ', '.join(
            f"step {e['step']} ({e['accuracy']:.4f})" for e in self.entries))
