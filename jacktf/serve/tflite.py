"""A float TFLite model with the SavedModel's contract: uint8 [1, S, S, 3] images in,
probabilities out, the backbone's eval preprocessing inside. Checked against the
SavedModel's ``predict_images`` on a few images."""

import os

import numpy as np
import tensorflow as tf

from jacktf.serve.export import ExportError


def export_tflite(model, saved_model_path, *, atol=1e-4, checks=3, seed=0):
    """Writes ``<export_dir>/tflite/<version>.tflite``; returns (path, max |diff|)."""
    size = model.image_size

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.uint8,
                                                name='images')])
    def serve(images):
        x = model.preprocess(images[0], training=False)[None]
        return {'probabilities': tf.nn.softmax(tf.cast(
            model.predict(x, training=False)['logits'], tf.float32))}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model.network)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    flat = converter.convert()
    export_dir, version = os.path.split(saved_model_path.rstrip('/'))
    path = os.path.join(export_dir, 'tflite', f'{version}.tflite')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(flat)
    interpreter = tf.lite.Interpreter(model_content=flat)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    reference = tf.saved_model.load(saved_model_path).signatures['predict_images']
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(checks):
        image = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        interpreter.set_tensor(inp['index'], image)
        interpreter.invoke()
        got = interpreter.get_tensor(out['index'])
        want = reference(images=tf.constant(image))['probabilities'].numpy()
        worst = max(worst, float(np.max(np.abs(got - want))))
    if not worst <= atol:
        os.remove(path)
        raise ExportError(f'TFLite check failed: probabilities differ from the SavedModel '
                          f'by up to {worst:.3g} (tolerance {atol}).')
    return path, worst
