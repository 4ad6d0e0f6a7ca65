"""Callbacks: each a small class with one job, called by the Controller at named events.

A plugin adds callbacks with ``registry.callback(name, factory)`` in its
``jacktf_register_callbacks(registry)`` hook; a recipe adds them with
``Trainer.callbacks = [@name()]``.
"""

from jacktf.train.callbacks.base import Callback, CallbackList
from jacktf.train.callbacks.checkpoints import BestK, PeriodicCheckpoints
from jacktf.train.callbacks.evaluation import BatchNormGapHint, PeriodicEval
from jacktf.train.callbacks.exporting import ExportAtEnd
from jacktf.train.callbacks.early_stopping import EarlyStopping
from jacktf.train.callbacks.guard import DivergenceGuard, TrainingDiverged
from jacktf.train.callbacks.metrics_csv import MetricsCsv
from jacktf.train.callbacks.pictures import EvalPictures
from jacktf.train.callbacks.progress import Progress, TensorBoard
from jacktf.train.callbacks.operative import AfterFirstStep
from jacktf.train.callbacks.preview import BatchPreview
from jacktf.train.callbacks.stop import StopSignals
from jacktf.train.callbacks.tb_text import TensorBoardText

__all__ = ['Callback', 'CallbackList', 'EarlyStopping', 'TrainingDiverged',
           'builtin_callbacks']


# The built-in callbacks with options of their own, by their gin name
# (``progress.every_steps = 50``); jacktf.app.configurables registers them.
CONFIGURABLE = {'progress': Progress, 'periodic_checkpoints': PeriodicCheckpoints,
                'best_k': BestK, 'divergence_guard': DivergenceGuard,
                'periodic_eval': PeriodicEval}


def builtin_callbacks(trainer, after_first_step=None, export_at_end=True, factories=None):
    """The callbacks of every training run and ``trainer.callbacks``; the Controller
    runs them by their ``order`` (see Callback).

    Args:
      trainer: the Trainer (its callbacks, and the deprecated options it still takes
        for the built-ins: Trainer.callback_settings).
      after_first_step: ``fn(model_dir)`` called once after the first step.
      export_at_end: add ExportAtEnd.
      factories: {gin name: factory} replacing CONFIGURABLE's classes (the app layer
        passes their gin-configured versions, so recipe bindings apply).
    """
    factories = dict(CONFIGURABLE, **(factories or {}))

    def make(name):
        return factories[name](**trainer.callback_settings.get(name, {}))

    callbacks = [BatchPreview(), make('divergence_guard'), AfterFirstStep(after_first_step),
                 TensorBoardText(), make('progress'), TensorBoard(),
                 make('periodic_checkpoints'), make('periodic_eval'), BatchNormGapHint(),
                 EvalPictures(), MetricsCsv(), make('best_k')]
    if export_at_end:
        callbacks.append(ExportAtEnd())
    return callbacks + list(trainer.callbacks) + [StopSignals()]
