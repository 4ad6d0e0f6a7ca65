"""Gin recipes shipped with jacktf (the repository's gin/ folder points here)."""
