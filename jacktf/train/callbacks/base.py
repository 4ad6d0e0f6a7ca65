"""Callback: what the Controller calls at named events (Keras/fastai naming).

Every method receives the Controller (``ctl``), whose attributes a callback may read:
``model``, ``trainer``, ``experiment``, ``strategy``, ``chief``, ``variables``,
``optimizer``, ``ema``, ``step`` (the global step variable), ``checkpoint``,
``manager``, ``model_dir``, ``train_writer``/``eval_writer``, ``stop`` (the run's
StopRequests), ``metrics`` (the last evaluation), ``eval_dataset`` (None without
evaluation), ``best`` (the best-k BestCheckpoints), ``stage`` (the stage index),
``start_step`` (the step this run started from). A callback ends training by setting
``ctl.stop_training = True`` (the end-of-training evaluation and export still run).
"""


class Callback:
    """Base class: every event is a no-op; override the ones you need."""

    def on_train_begin(self, ctl):
        """After restore/warm start, before the first step of this run."""

    def on_stage_begin(self, ctl, stage):
        """A stage (index ``stage``) starts."""

    def on_step_end(self, ctl, step, logs):
        """After step ``step`` was applied; ``logs``: loss, total_loss, accuracy,
        seconds of this step. Callbacks may add keys for those after them."""

    def on_loss_nonfinite(self, ctl, step):
        """The loss of (would-be) step ``step`` was NaN/Inf; nothing was applied."""

    def on_eval_end(self, ctl, step, metrics):
        """An evaluation at ``step`` ended; ``metrics``: accuracy, loss, examples."""

    def on_stage_end(self, ctl, stage):
        """A stage (index ``stage``) ended."""

    def on_train_end(self, ctl, logs):
        """Training ended normally; ``logs`` is the run's summary, callbacks may add to it."""

    def on_exit(self, ctl):
        """The run is over, however it ended (normally, by a stop signal or an error):
        release what on_train_begin opened (e.g. a progress bar)."""


class CallbackList:
    """Calls each event on every callback, in order."""

    EVENTS = ('on_train_begin', 'on_stage_begin', 'on_step_end', 'on_loss_nonfinite',
              'on_eval_end', 'on_stage_end', 'on_train_end', 'on_exit')

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def __getattr__(self, event):
        if event not in self.EVENTS:
            raise AttributeError(event)

        def call(*args):
            for callback in self.callbacks:
                method = getattr(callback, event, None)
                if method is not None:
                    method(*args)
        return call

    def find(self, cls):
        """The first callback that is a ``cls``, or None."""
        return next((c for c in self.callbacks if isinstance(c, cls)), None)
