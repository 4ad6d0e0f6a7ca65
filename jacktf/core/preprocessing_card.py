"""PreprocessingCard: the one description of a preprocessing (the protocol every
preprocessor plugin provides, built-in or not).

A card says, in numbers, what a preprocessing does to a decoded photo (uint8 RGB
[H, W, 3]):

* ``geometry``: the eval path's crop and resize to [S, S] (:class:`Geometry`);
* ``normalization``: pixels in [0, 255] -> model input, per channel
  (:class:`Normalization`), with its exact inverse;
* ``train``: the training path (augmentation), a function to float pixels [S, S, 3] in
  [0, 255]; the normalization is applied after it, so the same inverse undoes it.

Everything else is derived from these: the training and eval input
(:meth:`PreprocessingCard.preprocess`), pixels back from a model input for the batch
preview and the galleries (:meth:`PreprocessingCard.to_pixels`), and the ordered,
language-neutral client steps an app follows (:meth:`PreprocessingCard.client_steps`),
which the export writes into its client contract. Register one with
``registry.preprocessor(name, card)``; ``jacktf.data.preprocessing`` holds the built-in
cards and ``docs/guides/preprocessing.md`` tells how to add one.
"""

import dataclasses
import inspect
from typing import Callable, Optional, Tuple

import tensorflow as tf

ORDERS = ('crop_then_resize', 'resize_then_crop')
DECODE_STEP = {
    'step': 'decode', 'output': 'RGB uint8 [H, W, 3]',
    'how': 'tf.io.decode_image(data, channels=3, expand_animations=False): grey and RGBA '
           'become RGB; a GIF gives its first frame'}


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


def accepted_options(fn, options):
    """The items of ``options`` that ``fn`` takes as keyword arguments (all of them when
    it takes ``**kwargs``)."""
    if not options:
        return {}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params and k != 'seed'}


def _random_seed(seed):
    if seed is None:
        return tf.random.uniform([2], 0, 2 ** 31 - 1, dtype=tf.int64)
    return tf.cast(seed, tf.int64)


@dataclasses.dataclass(frozen=True)
class PreprocessingCard:
    """One preprocessing: its geometry, normalization, training path and sources.

    Attributes:
      geometry: the eval path's crop and resize (:class:`Geometry`).
      normalization: pixels -> model input (:class:`Normalization`).
      train: ``train(image_uint8, *, image_size, seed) -> float32 pixels [S, S, 3]`` in
        [0, 255], the training augmentation (``seed``: int64 [2], for stateless random
        ops); None trains on the eval path.
      summary: one line for `jacktf plugins`.
      source: where the numbers come from (a file of the official code, a paper).
    """
    geometry: Geometry
    normalization: Normalization
    train: Optional[Callable] = None
    summary: str = ''
    source: str = ''

    exact_inverse = True

    def __post_init__(self):
        if not isinstance(self.geometry, Geometry):
            raise ValueError(f'PreprocessingCard.geometry must be a Geometry, got '
                             f'{self.geometry!r}.')
        if not isinstance(self.normalization, Normalization):
            raise ValueError('PreprocessingCard.normalization must be a Normalization, '
                             f'got {self.normalization!r}.')
        if self.train is not None and not callable(self.train):
            raise ValueError(f'PreprocessingCard.train must be callable or None, got '
                             f'{self.train!r}.')

    def train_window(self, shape, *, seed, options=None):
        """(begin, size) of the crop the training path starts with, for an image of
        ``shape`` and ``seed``, when ``train`` publishes one as its ``crop_window``
        attribute (else None): the input pipeline then decodes only that window and
        calls :meth:`pixels` with ``cropped=True``."""
        window = getattr(self.train, 'crop_window', None)
        if window is None:
            return None
        return window(shape, seed=_random_seed(seed), **accepted_options(window, options))

    def pixels(self, image, *, image_size, is_training, seed=None, options=None,
               cropped=False):
        """uint8 [H, W, 3] -> float32 pixels [S, S, 3] of the train or the eval path.

        ``options``: keyword options of the training path (e.g. ``flip``,
        ``area_range``); those ``train`` does not take are ignored. ``cropped``: the
        image is already the training crop (:meth:`train_window`).
        """
        if is_training and self.train is not None:
            extra = {'cropped': True} if cropped else {}
            out = self.train(image, image_size=image_size, seed=_random_seed(seed),
                             **accepted_options(self.train, options), **extra)
            return tf.reshape(tf.cast(out, tf.float32), [image_size, image_size, 3])
        return self.geometry.apply(image, image_size)

    def preprocess(self, image, *, image_size, is_training, seed=None, options=None,
                   cropped=False):
        """uint8 [H, W, 3] -> float32 model input [S, S, 3]."""
        return self.normalization.apply(self.pixels(
            image, image_size=image_size, is_training=is_training, seed=seed,
            options=options, cropped=cropped))

    def to_pixels(self, inputs):
        """Model inputs [..., 3] -> uint8 pixels (the exact inverse, rounded)."""
        pixels = tf.clip_by_value(self.normalization.invert(inputs), 0.0, 255.0)
        return tf.cast(tf.round(pixels), tf.uint8)

    def client_steps(self, image_size):
        """The ordered steps an app does from encoded bytes to the model input."""
        s = int(image_size)
        return [dict(DECODE_STEP)] + self.geometry.steps(s) + [
            self.normalization.step(),
            {'step': 'layout', 'shape': [1, s, s, 3], 'layout': 'NHWC',
             'channels': 'RGB', 'dtype': 'float32'}]

    def describe(self, image_size=None):
        """The card as plain data (for `jacktf plugins --json` and the docs)."""
        out = {'geometry': dataclasses.asdict(self.geometry),
               'normalization': self.normalization.step(),
               'train': getattr(self.train, '__name__', None), 'source': self.source}
        if image_size:
            out['client_steps'] = self.client_steps(image_size)
        return out


class LegacyPreprocessing:
    """A preprocessor registered as a bare function (before cards; deprecated).

    It runs the function for training and eval; its inverse is the function's
    ``to_pixels`` attribute when set, else each image is stretched to 0-255; it has no
    client steps (a client runs the whole function).
    """

    def __init__(self, fn):
        self.fn = fn
        self.summary = (getattr(fn, '__doc__', None) or '').strip().split('\n')[0]
        self.source = f'the function {getattr(fn, "__qualname__", fn)!r}'
        self.exact_inverse = getattr(fn, 'to_pixels', None) is not None
        try:
            self.takes_seed = 'seed' in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self.takes_seed = False

    def preprocess(self, image, *, image_size, is_training, seed=None, options=None):
        kwargs = accepted_options(self.fn, options)
        if self.takes_seed:
            kwargs['seed'] = seed
        return self.fn(image, image_size=image_size, is_training=is_training, **kwargs)

    def to_pixels(self, inputs):
        inputs = tf.cast(inputs, tf.float32)
        if self.exact_inverse:
            return tf.cast(tf.round(tf.clip_by_value(self.fn.to_pixels(inputs), 0.0,
                                                     255.0)), tf.uint8)
        low = tf.reduce_min(inputs, axis=[-3, -2, -1], keepdims=True)
        high = tf.reduce_max(inputs, axis=[-3, -2, -1], keepdims=True)
        stretched = (inputs - low) / tf.maximum(high - low, 1e-6) * 255.0
        return tf.cast(tf.round(stretched), tf.uint8)

    def client_steps(self, image_size):
        return None

    def describe(self, image_size=None):
        return {'legacy_function': self.source}
