"""Built-in backbones, one module per family.

To add a backbone, write a slim network function ``net(images, num_classes=None,
is_training=True, ..., scope=...)`` returning ``(net, end_points)`` and register it in
a ``jacktf_register_backbones(registry)`` hook with ``registry.backbone(...)``; see
jacktf.backbones.resnet for a complete example.
"""
