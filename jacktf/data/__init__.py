"""Data: record decoders, preprocessors, the tf.data pipeline, the converter, the input
preflight and demo data.

A decoder plugin is ``factory(**options) -> decode(record) -> {'encoded': image bytes,
'label': int32}`` (see jacktf.data.decoders for its optional ``source``, ``check`` and
``features``); a preprocessing is a ``jacktf.PreprocessingCard`` (geometry,
normalization, training path; see jacktf.data.preprocessing for the built-in ones).
Register them in ``jacktf_register_decoders`` and
``jacktf_register_preprocessors``.
"""
