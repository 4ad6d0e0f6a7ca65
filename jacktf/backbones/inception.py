"""The slim Inception family under one namespace (research/slim's nets/inception).

``inception_v1`` ... ``inception_v4`` and ``inception_resnet_v2`` with their ``_base``
and ``_arg_scope`` functions, each defined in its own module, and their registration as
jacktf backbones. Official checkpoints have 1001 classes and Inception preprocessing.
"""

import jacktf
from jacktf.backbones.inception_resnet_v2 import inception_resnet_v2, \
    inception_resnet_v2_arg_scope, inception_resnet_v2_base
from jacktf.backbones.inception_v1 import inception_v1, inception_v1_arg_scope, \
    inception_v1_base
from jacktf.backbones.inception_v2 import inception_v2, inception_v2_arg_scope, \
    inception_v2_base
from jacktf.backbones.inception_v3 import inception_v3, inception_v3_arg_scope, \
    inception_v3_base
from jacktf.backbones.inception_v4 import inception_v4, inception_v4_arg_scope, \
    inception_v4_base

__all__ = ['inception_v1', 'inception_v1_base', 'inception_v1_arg_scope',
           'inception_v2', 'inception_v2_base', 'inception_v2_arg_scope',
           'inception_v3', 'inception_v3_base', 'inception_v3_arg_scope',
           'inception_v4', 'inception_v4_base', 'inception_v4_arg_scope',
           'inception_resnet_v2', 'inception_resnet_v2_base',
           'inception_resnet_v2_arg_scope']

# name, function, arg_scope, size, scope, pooled features, CAM endpoint, aux logits
_NETS = (
    (inception_v1, inception_v1_arg_scope, 224, 'InceptionV1', 'AvgPool_0a_7x7',
     'Mixed_5c', False),
    (inception_v2, inception_v2_arg_scope, 224, 'InceptionV2', 'AvgPool_1a', 'Mixed_5c',
     False),
    (inception_v3, inception_v3_arg_scope, 299, 'InceptionV3', 'AvgPool_1a', 'Mixed_7c',
     True),
    (inception_v4, inception_v4_arg_scope, 299, 'InceptionV4', 'global_pool', 'Mixed_7d',
     True),
    (inception_resnet_v2, inception_resnet_v2_arg_scope, 299, 'InceptionResnetV2',
     'global_pool', 'Conv2d_7b_1x1', True),
)


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers inception_v1 ... inception_v4 and inception_resnet_v2."""
    for fn, arg_scope, size, scope, features, cam, aux in _NETS:
        classifier = [f'{scope}/Logits'] + ([f'{scope}/AuxLogits'] if aux else [])
        registry.backbone(fn.__name__, fn, scope=scope, arg_scope=arg_scope,
                          default_image_size=size, preprocessing='inception',
                          num_classes_official=1001, classifier_scopes=classifier,
                          features_endpoint=features, cam_endpoint=cam,
                          native_logits_endpoint='Logits')
