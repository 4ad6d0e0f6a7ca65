"""Callback: what the Controller calls at named events (Keras/fastai naming)."""

EVENTS = ('on_train_begin', 'on_stage_begin', 'on_step_end', 'on_loss_nonfinite',
          'on_eval_end', 'on_stage_end', 'on_train_end', 'on_exit')


class Callback:
    """Base class of training callbacks (public as ``jacktf.Callback``): every event is
    a no-op; override the ones you need. A callback owns its settings (keyword options
    of its constructor, a gin configurable when registered).

    Order: callbacks run at each event by ascending ``order`` (fastai's rule; equal
    orders keep the order they were given in). The built-ins use 0..40, StopSignals
    90; a callback without its own ``order`` gets 50: it sees what the built-ins put in
    ``logs`` and runs before the stop signal ends the step. ``jacktf train
    --show_callbacks`` prints the events and who runs at each.

    The contract: every method receives the Controller ``ctl``. A callback may READ

    - ``model``, ``strategy``, ``chief`` (this worker writes MODEL_DIR), ``model_dir``,
      ``write_dir`` (where this worker saves), ``batch_size``, ``counters``
      (``skipped`` records);
    - ``trainer``: the step's settings (``train_steps``, ``train_epochs``,
      ``steps_per_epoch``, ``accumulate_steps``, ``stages``);
    - ``callbacks``: the run's CallbackList; ``callbacks.find(cls)`` gives another
      callback to ask about its settings (EarlyStopping asks PeriodicEval its
      ``interval(trainer)``);
    - ``inputs`` (jacktf.train.inputs.RunInputs: the files, ``dataset(...)``,
      ``class_names()``, ``seed``, ``deterministic``, ``hyperparameters``,
      ``preview_images``, ``export``), ``eval_dataset`` (None without evaluation);
    - ``variables``, ``all_variables``, ``optimizer``, ``ema``, ``step`` (the global
      step variable), ``start_step``, ``stage``, ``checkpoint``, ``manager``,
      ``train_writer`` / ``eval_writer``, ``stop`` (the run's StopRequests),
      ``metrics`` (the last evaluation), ``evaluation`` (the last EvalResult, with its
      collector and top-loss examples).

    and may WRITE only

    - ``stop_training = True``: ends training after this step (the end-of-training
      evaluation and export still run); ``result``: with ``stop_training``, the run's
      summary instead of the normal one (a stop signal's);
    - ``best``: the best-k BestCheckpoints (BestK sets it; others may re-rank it);
    - ``metrics[key]``: adds to the run's summary (e.g. the export paths);
    - ``logs`` / ``metrics`` entries passed to an event, for the callbacks after it;
    - the run's state through its own methods: ``checkpoint.restore``,
      ``manager.save``, ``lr_scale.assign`` (the divergence guard), ``evaluate(step)``
      (an evaluation, which calls ``on_eval_end``), ``state.blocked_save``.

    Anything else on ``ctl`` is the Controller's own and may change without notice.
    """

    order = 50

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


def runs_at(callback, event):
    """True when ``callback`` does something at ``event`` (overrides the no-op)."""
    method = getattr(type(callback), event, None)
    return method is not None and method is not getattr(Callback, event)


class CallbackList:
    """Calls each event on every callback, by ascending ``order`` (stable)."""

    EVENTS = EVENTS

    def __init__(self, callbacks):
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, 'order', 50))

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

    def describe(self):
        """The training loop as text: each event, then the callbacks that run at it in
        order, each with its ``order`` (fastai's show_training_loop)."""
        lines = []
        for event in self.EVENTS:
            lines.append(event)
            lines += [f'  {getattr(c, "order", 50):>3}  {type(c).__name__}'
                      for c in self.callbacks if runs_at(c, event)] or ['       (none)']
        return '\n'.join(lines)
