"""MobileNet v2 and v3 in the slim style (the official research/slim/nets/mobilenet).

``blocks`` holds the building blocks (expanded convolution, squeeze-excite, hard-swish,
depth rounding) and the spec-driven tower and classifier shared by both versions;
``mobilenet_v2`` and ``mobilenet_v3`` hold the layer specs and register the backbones.
"""
