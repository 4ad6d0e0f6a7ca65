"""What a client does to an image before a TFLite or ONNX model, split where it is cheap
for a phone or a microcontroller.

For the built-in preprocessors (``simple``, ``inception``, ``vgg``) the client only
decodes and resizes/crops (the geometry of the eval preprocessing) and sends **pixel
values** in [0, 255]; the normalization (``x / 127.5 - 1`` or the VGG mean subtraction)
is the first op inside the model. An int8 model's uint8 input then is the rounded pixel
itself (scale 1, zero point 0), so a camera buffer goes in as it is.

For a preprocessor of another plugin, whose steps jacktf cannot split, the client runs
the whole preprocessor and sends its float output; an int8 model's input is then
quantized with the scale and zero point in the card.
"""

import inspect

import tensorflow as tf

DECODE = ('tf.io.decode_image(data, channels=3, expand_animations=False): RGB uint8 '
          '[H, W, 3] (grey and RGBA become RGB; a GIF gives its first frame)')
RESIZE = 'bilinear, half-pixel centers, no antialiasing: tf.image.resize'
SPLIT = ('simple', 'inception', 'vgg')  # preprocessors whose normalization goes inside


def _default(fn, name, fallback):
    try:
        value = inspect.signature(fn).parameters[name].default
    except (KeyError, TypeError, ValueError):
        return fallback
    return fallback if value is inspect.Parameter.empty else value


def _vgg_means():
    from jacktf.data.preprocessing import VGG_MEANS
    return tuple(float(m) for m in VGG_MEANS)


def geometry(name, image, size, fn=None):
    """The eval preprocessing of ``name`` without its normalization: float32 pixels
    [size, size, 3] in [0, 255] (the same resize and crop, on pixel values).

    Args:
      name: 'simple', 'inception' or 'vgg'.
      image: uint8 [H, W, 3].
      size: the model's input size.
      fn: the registered preprocessor (its defaults are followed).
    """
    image = tf.cast(image, tf.float32)
    if name == 'inception':
        fraction = _default(fn, 'central_fraction', 0.875)
        if fraction:
            image = tf.image.central_crop(image, central_fraction=fraction)
    if name == 'vgg':
        side = tf.cast(_default(fn, 'resize_side_min', None) or
                       int(round(size * 256 / 224)), tf.float32)
        shape = tf.shape(image)
        h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
        scale = side / tf.minimum(h, w)
        new = [tf.maximum(tf.cast(tf.math.round(h * scale), tf.int32), 1),
               tf.maximum(tf.cast(tf.math.round(w * scale), tf.int32), 1)]
        image = tf.image.resize(image, new, method='bilinear')
        shape = tf.shape(image)
        image = tf.image.crop_to_bounding_box(image, (shape[0] - size) // 2,
                                              (shape[1] - size) // 2, size, size)
    else:
        image = tf.image.resize(image, [size, size], method='bilinear')
    return tf.reshape(image, [size, size, 3])


def normalize(name, pixels):
    """The normalization of ``name`` (the op at the start of the exported model)."""
    if name == 'vgg':
        return pixels - tf.constant(_vgg_means(), tf.float32)
    return pixels / 127.5 - 1.0


def normalization_words(name):
    if name == 'vgg':
        return 'x - (' + ', '.join(f'{m:g}' for m in _vgg_means()) + ') per RGB channel'
    return 'x / 127.5 - 1 (range [-1, 1])'


def geometry_words(name, size, fn=None):
    """The client's resize/crop in words, on pixel values x in [0, 255]."""
    s = int(size)
    if name == 'simple':
        return f'resize the whole image to {s}x{s} ({RESIZE}) on float pixel values'
    if name == 'inception':
        fraction = _default(fn, 'central_fraction', 0.875)
        crop = (f'keep the central {fraction:g} of the height and the width (top = '
                f'int((H - H * {fraction:g}) / 2), height = H - 2 * top; the same for the '
                'width), then ' if fraction else '')
        return f'{crop}resize to {s}x{s} ({RESIZE}) on float pixel values'
    if name == 'vgg':
        side = _default(fn, 'resize_side_min', None) or int(round(s * 256 / 224))
        return (f'scale so the shorter side is {side} (each side: round(side * {side} / '
                f'shorter side); {RESIZE}) on float pixel values, then crop the central '
                f'{s}x{s} (top = (H - {s}) // 2, left = (W - {s}) // 2)')
    return None


def section(model, registry):
    """The card's ``preprocessing`` section for ``model``'s preprocessor."""
    entry = registry.get('preprocessor', model.preprocessing)
    name, size = model.preprocessing, model.image_size
    out = {'name': name, 'provider': entry.provider, 'image_size': size, 'decode': DECODE}
    if name in SPLIT:
        out.update(
            client_steps=geometry_words(name, size, entry.factory) + '; send the pixel '
            'values x in [0, 255]: float32 as they are, or rounded for a uint8 input',
            input='pixels', inside_model=normalization_words(name))
    else:
        out.update(
            client_steps=f'the eval mode of the preprocessor plugin {name!r} ('
            f'{entry.provider}) to {size}x{size}: see its documentation (jacktf predict '
            'runs it); send its float output', input='preprocessed', inside_model=None)
    return out


def client_function(preprocessing, registry):
    """encoded bytes -> float32 [S, S, 3]: what the card says a client sends (pixels for
    the built-in preprocessors, else the whole preprocessor's output).

    Args:
      preprocessing: a card's ``preprocessing`` section.
      registry: the Registry holding the preprocessor.
    """
    name, size = preprocessing['name'], int(preprocessing['image_size'])
    fn = registry.get('preprocessor', name).factory
    pixels = preprocessing.get('input') == 'pixels'

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def prepare(encoded):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        if pixels:
            return geometry(name, image, size, fn)
        return fn(image, image_size=size, is_training=False)

    return lambda encoded: prepare(tf.constant(encoded)).numpy()
