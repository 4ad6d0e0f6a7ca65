"""Example jacktf plugin: the TinyNet backbone and the mlp head."""
