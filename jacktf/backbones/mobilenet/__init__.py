"""MobileNet v2 and v3, drop-in for research/slim's nets/mobilenet package.

``mobilenet`` is the spec-driven builder (``op``, ``mobilenet_base``, ``mobilenet``,
``training_scope``, ``depth_multiplier``), ``conv_blocks`` the blocks (expanded
convolution, squeeze-excite, split convolutions), ``mobilenet_v2`` and ``mobilenet_v3``
the official specs, their functions and the backbone registration. Import them as the
official tests do: ``from jacktf.backbones.mobilenet import mobilenet, mobilenet_v2``.
"""
