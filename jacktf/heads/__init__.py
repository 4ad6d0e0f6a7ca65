"""Built-in classification heads.

A head is ``head(features, *, num_classes, is_training, **options) -> logits [N, K]``,
run inside the model's tracked slim call (use slim layers with explicit scopes). Register
it in a ``jacktf_register_heads(registry)`` hook with ``registry.head(name, fn)``.
The special head ``native`` uses the backbone's own logits layer.
"""
