"""Data: record decoders, preprocessors, the tf.data pipeline, the converter and demo data.

A decoder plugin is ``factory(**options) -> decode(serialized) -> {'image': uint8
[H, W, 3], 'label': int32}``; a preprocessor plugin is ``fn(image, *, image_size,
is_training) -> float32 [S, S, 3]``. Register them in ``jacktf_register_decoders`` and
``jacktf_register_preprocessors``.
"""
