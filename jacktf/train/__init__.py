"""Training: the Controller (the outer loop), callbacks (one job each), the inner step,
the Trainer's settings, strategies and precision, checkpointing and stop signals."""
