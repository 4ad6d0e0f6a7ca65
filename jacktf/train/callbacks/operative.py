"""The operative-config writer: called once after the first step of a run."""

from jacktf.train.callbacks.base import Callback


class AfterFirstStep(Callback):
    """Calls ``fn(model_dir)`` once after this run's first step, on the chief (run.py
    passes the operative-config writer)."""

    order = 10  # writes operative_config.gin, which TensorBoardText reads

    def __init__(self, fn):
        self.fn = fn

    def on_step_end(self, ctl, step, logs):
        if step == ctl.start_step + 1 and self.fn and ctl.chief:
            self.fn(ctl.model_dir)
