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
from typing import Callable, Optional

import tensorflow as tf

# Re-exported: the card's parts, by the path plugins and docs use.
from jacktf.core.preprocessing_steps import ORDERS, Geometry, Normalization  # noqa: F401

DECODE_STEP = {
    'step': 'decode', 'output': 'RGB uint8 [H, W, 3]',
    'how': 'tf.io.decode_image(data, channels=3, expand_animations=False): grey and RGBA '
           'become RGB; a GIF gives its first frame'}


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
