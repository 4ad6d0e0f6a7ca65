"""The augmentations of a batch (stage 'batch'): mixup and CutMix blend each batch
with itself reversed, images and one-hot labels alike."""

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.data.augment_base import Augmentation, beta, check_probability, uniform


class Mixup(Augmentation):
    """mixup (Zhang et al. 2017): each batch is blended with itself reversed, images and
    one-hot labels alike, by lam ~ Beta(alpha, alpha).

    Args:
      alpha: the Beta distribution's parameter (0.2 is common for ImageNet).
      probability: chance that a batch is mixed.
    """
    name = 'mixup'
    stage = 'batch'

    def __init__(self, *, alpha=0.2, probability=1.0):
        if not float(alpha) > 0:
            raise ConfigError(f'mixup.alpha must be > 0, got {alpha!r}.')
        self.alpha = float(alpha)
        self.probability = check_probability('mixup.probability', probability)

    def augment(self, images, labels, seed):
        lam = beta(self.alpha, seed)
        lam = tf.where(uniform(seed, 0) < self.probability, lam, 1.0)
        images = lam * images + (1 - lam) * tf.reverse(images, [0])
        labels = lam * labels + (1 - lam) * tf.reverse(labels, [0])
        return images, labels


class CutMix(Augmentation):
    """CutMix (Yun et al. 2019): a rectangle of each image is replaced by the same
    rectangle of the batch reversed; the labels mix by the pasted area.

    Args:
      alpha: lam ~ Beta(alpha, alpha); the rectangle covers about 1 - lam of the image.
      probability: chance that a batch is cut and mixed.
    """
    name = 'cutmix'
    stage = 'batch'

    def __init__(self, *, alpha=1.0, probability=1.0):
        if not float(alpha) > 0:
            raise ConfigError(f'cutmix.alpha must be > 0, got {alpha!r}.')
        self.alpha = float(alpha)
        self.probability = check_probability('cutmix.probability', probability)

    def augment(self, images, labels, seed):
        shape = tf.shape(images)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        ratio = tf.sqrt(1.0 - beta(self.alpha, seed))
        cy, cx = uniform(seed, 1) * h, uniform(seed, 2) * w
        top = tf.clip_by_value(tf.round(cy - ratio * h / 2), 0.0, h)
        bottom = tf.clip_by_value(tf.round(cy + ratio * h / 2), 0.0, h)
        left = tf.clip_by_value(tf.round(cx - ratio * w / 2), 0.0, w)
        right = tf.clip_by_value(tf.round(cx + ratio * w / 2), 0.0, w)
        apply = uniform(seed, 0) < self.probability
        rows = tf.range(h)[:, None]
        cols = tf.range(w)[None, :]
        box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right) & apply
        images = tf.where(box[None, :, :, None], tf.reverse(images, [0]), images)
        pasted = tf.reduce_sum(tf.cast(box, tf.float32)) / (h * w)
        labels = (1 - pasted) * labels + pasted * tf.reverse(labels, [0])
        return images, labels
