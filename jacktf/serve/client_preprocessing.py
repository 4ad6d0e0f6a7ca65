"""What a client does to an image before a TFLite or ONNX model, derived from the
preprocessing card (``jacktf.core.preprocessing_card``) and split where it is cheap for
a phone or a microcontroller.

For a card (every built-in preprocessor, and any plugin's card) the client only decodes
and crops/resizes (the card's eval geometry, its client steps up to 'normalize') and
sends **pixel values** in [0, 255]; the card's normalization is the first op inside the
model. An int8 model's uint8 input then is the rounded pixel itself (scale 1, zero
point 0), so a camera buffer goes in as it is.

For a preprocessor registered as a bare function (deprecated), whose steps jacktf
cannot split, the client runs the whole preprocessor and sends its float output; an
int8 model's input is then quantized with the scale and zero point in the card.
"""

import tensorflow as tf

from jacktf.data import client_steps as steps_lib

DECODE = ('tf.io.decode_image(data, channels=3, expand_animations=False): RGB uint8 '
          '[H, W, 3] (grey and RGBA become RGB; a GIF gives its first frame)')


def pixel_steps(card, size):
    """The card's client steps without 'normalize' (done inside the model), the layout
    saying pixel values; None for a card without client steps."""
    steps = card.client_steps(size)
    if steps is None:
        return None
    out = [dict(s) for s in steps if s['step'] != 'normalize']
    for step in out:
        if step['step'] == 'layout':
            step['values'] = ('pixel values in [0, 255]: float32 as they are, or rounded '
                              'for a uint8 input')
    return out


def section(model, registry):
    """The deploy card's ``preprocessing`` section (the client contract) for ``model``."""
    entry = registry.get('preprocessor', model.preprocessing)
    card, name, size = entry.card, model.preprocessing, model.image_size
    out = {'name': name, 'provider': entry.provider, 'image_size': size, 'decode': DECODE}
    client = pixel_steps(card, size)
    if client is not None:
        normalize = card.normalization.step()
        out.update(
            client_steps=steps_lib.words(client[:-1]) + '; send the pixel values x in '
            '[0, 255]: float32 as they are, or rounded for a uint8 input',
            steps=client, input='pixels',
            inside_model=steps_lib.normalization_words(normalize),
            normalization=normalize, source=card.source)
    else:
        out.update(
            client_steps=f'the eval mode of the preprocessor plugin {name!r} ('
            f'{entry.provider}) to {size}x{size}: see its documentation (jacktf predict '
            'runs it); send its float output', input='preprocessed', inside_model=None)
    return out


def normalizer(model):
    """The op at the start of an exported TFLite/ONNX model (pixels -> the net's input),
    or None when the client sends the preprocessed input."""
    card = model.preprocessing_card
    if card.client_steps(model.image_size) is None:
        return None
    return card.normalization.apply


def client_function(preprocessing, registry):
    """encoded bytes -> float32 [S, S, 3]: what the card says a client sends (pixels for
    a preprocessing card, else the whole preprocessor's output).

    Args:
      preprocessing: a deploy card's ``preprocessing`` section.
      registry: the Registry holding the preprocessor.
    """
    name, size = preprocessing['name'], int(preprocessing['image_size'])
    card = registry.get('preprocessor', name).card
    pixels = preprocessing.get('input') == 'pixels'

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def prepare(encoded):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        if pixels:
            return card.geometry.apply(image, size)
        return card.preprocess(image, image_size=size, is_training=False)

    return lambda encoded: prepare(tf.constant(encoded)).numpy()
