"""The two numeric parts of a preprocessing card (jacktf.core.preprocessing_card): the
per-channel Normalization with its exact inverse, and the eval path's Geometry (crop
and resize to [S, S]), each able to apply itself and to describe itself as client
steps."""

import dataclasses
from typing import Tuple

import tensorflow as tf

ORDERS = ('crop_then_resize', 'resize_then_crop')
def _triple(values, what):
    values = tuple(float(v) for v in (values if isinstance(values, (tuple, list))
                                      else (values,) * 3))
    if len(values) != 3:
        raise ValueError(f'{what} needs one value or three (R, G, B), got {values!r}.')
    return values


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Model input ``x = (pixel - mean) / std`` per RGB channel, pixel in [0, 255].

    Equivalently ``x = pixel * scale + offset`` (``scale = 1 / std``, ``offset = -mean
    / std``); the inverse is ``pixel = x * std + mean``.

    Attributes:
      mean: per channel (R, G, B), in pixel units (0-255); one number for all three.
      std: per channel, in pixel units; one number for all three.
    """
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self):
        object.__setattr__(self, 'mean', _triple(self.mean, 'Normalization.mean'))
        object.__setattr__(self, 'std', _triple(self.std, 'Normalization.std'))
        if min(self.std) <= 0:
            raise ValueError(f'Normalization.std must be positive, got {self.std}.')

    @property
    def scale(self):
        return tuple(1.0 / s for s in self.std)

    @property
    def offset(self):
        return tuple(-m / s for m, s in zip(self.mean, self.std))

    @property
    def value_range(self):
        """((low R, G, B), (high R, G, B)): the model input of pixels 0 and 255."""
        return (tuple(-m / s for m, s in zip(self.mean, self.std)),
                tuple((255.0 - m) / s for m, s in zip(self.mean, self.std)))

    def apply(self, pixels):
        """float pixels [..., 3] in [0, 255] -> model input (float32)."""
        pixels = tf.cast(pixels, tf.float32)
        return (pixels - tf.constant(self.mean, tf.float32)) / tf.constant(self.std,
                                                                           tf.float32)

    def invert(self, inputs):
        """model input [..., 3] -> float pixels (not rounded, not clipped)."""
        inputs = tf.cast(inputs, tf.float32)
        return inputs * tf.constant(self.std, tf.float32) + tf.constant(self.mean,
                                                                        tf.float32)

    def step(self):
        """The client step that turns pixels into the model input."""
        low, high = self.value_range
        return {'step': 'normalize', 'formula': 'x = (pixel - mean) / std per channel',
                'mean': list(self.mean), 'std': list(self.std), 'scale': list(self.scale),
                'offset': list(self.offset), 'range': [list(low), list(high)]}


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The eval path's crop and resize, from a decoded photo to [S, S] float pixels.

    Attributes:
      order: 'crop_then_resize' (slim inception: keep the central ``crop_fraction`` of
        the height and the width, then resize to S x S, aspect not kept) or
        'resize_then_crop' (slim vgg: scale so the shorter side is
        round(S / crop_fraction), aspect kept, then take the central S x S).
      crop_fraction: the central fraction kept, in (0, 1]; 1 with 'crop_then_resize'
        resizes the whole image.
      method: the resize: 'bilinear' (tf.image.resize: half-pixel centres, no
        antialiasing).
    """
    order: str = 'crop_then_resize'
    crop_fraction: float = 1.0
    method: str = 'bilinear'

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f'Geometry.order must be one of {ORDERS}, got '
                             f'{self.order!r}.')
        if not 0 < float(self.crop_fraction) <= 1:
            raise ValueError('Geometry.crop_fraction must be in (0, 1], got '
                             f'{self.crop_fraction!r}.')
        if self.method != 'bilinear':
            raise ValueError(f"Geometry.method must be 'bilinear', got {self.method!r}.")

    def shorter_side(self, size):
        """'resize_then_crop': the shorter side before the central crop."""
        return int(round(int(size) / float(self.crop_fraction)))

    @tf.autograph.experimental.do_not_convert  # static Python branches only
    def apply(self, image, size):
        """uint8 or float image [H, W, 3] -> float32 pixels [size, size, 3]."""
        image = tf.cast(image, tf.float32)
        if self.order == 'crop_then_resize':
            if self.crop_fraction < 1:
                image = tf.image.central_crop(image, central_fraction=self.crop_fraction)
            image = tf.image.resize(image, [size, size], method=self.method)
        else:
            shape = tf.shape(image)
            h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
            scale = tf.cast(self.shorter_side(size), tf.float32) / tf.minimum(h, w)
            new = [tf.maximum(tf.cast(tf.math.round(h * scale), tf.int32), 1),
                   tf.maximum(tf.cast(tf.math.round(w * scale), tf.int32), 1)]
            image = tf.image.resize(image, new, method=self.method)
            shape = tf.shape(image)
            image = tf.image.crop_to_bounding_box(image, (shape[0] - size) // 2,
                                                  (shape[1] - size) // 2, size, size)
        return tf.reshape(image, [size, size, 3])

    def steps(self, size):
        """The crop and resize as client steps (dicts, in order)."""
        s = int(size)
        resize = {'method': self.method, 'half_pixel_centers': True, 'antialias': False,
                  'on': 'float32 pixel values'}
        if self.order == 'crop_then_resize':
            out = []
            if self.crop_fraction < 1:
                out.append({'step': 'central_crop', 'fraction': float(self.crop_fraction),
                            'top': 'int((H - H * fraction) / 2) in float64',
                            'left': 'int((W - W * fraction) / 2) in float64',
                            'height': 'H - 2 * top', 'width': 'W - 2 * left'})
            return out + [dict({'step': 'resize', 'size': [s, s]}, **resize)]
        side = self.shorter_side(s)
        return [dict({'step': 'resize_shorter_side', 'shorter_side': side,
                      'each_side': f'max(1, round_half_even(n * ({side} / min(H, W)))) '
                                   'in float32'}, **resize),
                {'step': 'center_crop', 'size': [s, s], 'top': f'(H - {s}) // 2',
                 'left': f'(W - {s}) // 2'}]
