"""The pretrained zoo: weights shipped in the package and the official slim checkpoints."""
