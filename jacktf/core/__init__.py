"""jacktf internals: registry, plugin manager, Model, scope rules, restore, trainer."""
