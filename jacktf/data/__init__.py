"""Data: record decoders, preprocessors, the tf.data pipeline, the converter, the input
preflight and demo data.

A decoder plugin is ``factory(**options) -> decode(record) -> {'encoded': image bytes,
'label': int32}`` (see jacktf.data.decoders for its optional ``source``, ``check`` and
``features``); a preprocessor plugin is ``fn(image, *, image_size, is_training, seed)
-> float32 [S, S, 3]``. Register them in ``jacktf_register_decoders`` and
``jacktf_register_preprocessors``.
"""
