"""``jacktf.Learner``: the Python door for notebooks and scripts.

    learn = Learner.from_folder('photos/', backbone='mobilenet_v1_025',
                                model_dir='runs/photos')
    learn.fine_tune(epochs=5)
    learn.evaluate('test_photos/')          # dict: accuracy, top_k, per_class, ...
    learn.predict(['a.jpg', array])         # Predictions(labels, probabilities)
    learn.export(formats=['tflite:int8', 'onnx'])
    learn = Learner.load('runs/photos')     # any run, made here or by the CLI

A Learner is a model directory plus the recipe of its run: every method runs the same
code as the command line (the front door's plan and train, jacktf.app.evaluation,
jacktf.serve), so a run made in Python opens in the CLI and back. Errors are the CLI's
messages, raised as jacktf.JacktfError subclasses (ConfigError, DataError, ...).
"""

import dataclasses
import logging
import os

from jacktf.app import learner_io, runtime
from jacktf.app.learner_use import LearnerUse
from jacktf.core.errors import ConfigError

log = logging.getLogger('jacktf')


class Learner(LearnerUse):
    """A run's model directory and recipe; see the module docstring. Make one with
    :meth:`from_folder` (a new run on your data) or :meth:`load` (an existing run);
    evaluate, predict, export and the pictures are LearnerUse's."""

    def __init__(self, model_dir, *, gin_files=None, gin_params=(), plan=None,
                 checkpoint=None):
        if not log.handlers:  # the CLI's progress lines, in scripts and notebooks too
            runtime.setup_logging()
        self.model_dir = str(model_dir)
        self.plan = plan
        self.checkpoint = checkpoint
        self.lr_sweep = None  # the last lr_find's SweepResult
        self._gin_files = list(gin_files) if gin_files else None
        self._gin_params = list(gin_params)
        self._experiment = self._serving = self._evaluated = None

    # -- making one -----------------------------------------------------------------
    @classmethod
    def load(cls, model_dir, *, checkpoint=None, gin_params=(), **options):
        """Opens a training run (its MODEL_DIR/operative_config.gin and checkpoints).

        Args:
          model_dir: the MODEL_DIR of a run (`jacktf train`, `python -m jacktf.run` or
            :meth:`fine_tune`).
          checkpoint: the checkpoint to use: a prefix, a folder (its latest) or 'best'
            (MODEL_DIR/best); None: the latest of MODEL_DIR/checkpoints.
          gin_params: gin bindings applied over the run's config.
          **options: more bindings by gin name, e.g. ``**{'EVAL_FILES': 'val/'}``.

        Returns:
          A Learner with its weights restored.

        Raises:
          ConfigError: no such folder, not a run, no checkpoint, a bad binding.
        """
        if checkpoint == 'best':
            checkpoint = os.path.join(str(model_dir), 'best')
        learner = cls(model_dir, gin_params=learner_io.bindings(gin_params, options),
                      checkpoint=checkpoint)
        learner._restored()
        return learner

    @classmethod
    def from_folder(cls, data, *, backbone=None, model_dir=None, epochs=None,
                    batch_size=None, image_size=None, lr=None, seed=None, export=(),
                    gin_files=(), gin_params=(), **options):
        """A new run on ``data``, planned as `jacktf train DATA` plans it (nothing is
        trained until :meth:`fine_tune`).

        Args:
          data: a folder with one subfolder per class; a folder with train/ and val/
            (or validation/, optionally test/); a CSV of ``path,label[,split]``; or
            TFRecord globs. Classes and NUM_CLASSES come from the data; without a
            validation split a stratified, seeded one is written to
            MODEL_DIR/split.json.
          backbone: a registered backbone name; None: the shipped mobilenet_v1_025.
          model_dir: None: runs/<data folder name> (numbered when taken by other data).
          epochs, batch_size, image_size, lr, seed: the CLI's --epochs ... --seed.
          export: formats exported when training ends, e.g. ['tflite:int8', 'onnx'].
          gin_files / gin_params: recipes and bindings applied on top.
          **options: bindings by gin name, e.g. ``**{'periodic_eval.every_steps': 50}``.

        Raises:
          DataError: unusable data; ConfigError: a NUM_CLASSES that disagrees with the
            data, an unknown backbone or option.
        """
        from jacktf.app import front_door
        if isinstance(export, str):
            export = [export]
        plan = front_door.plan(
            os.fspath(data), backbone=backbone, epochs=epochs, batch_size=batch_size,
            image_size=image_size, lr=lr, model_dir=model_dir, seed=seed,
            export=tuple(export), gin_files=tuple(gin_files),
            gin_params=tuple(learner_io.bindings(gin_params, options)))
        for line in plan.describe().splitlines():
            log.info(line)
        return cls(plan.model_dir, gin_files=plan.gin_files, gin_params=plan.gin_params,
                   plan=plan)

    # -- the run --------------------------------------------------------------------
    @property
    def experiment(self):
        """The run's jacktf.app.experiment.Experiment (built on first use)."""
        if self._experiment is None:
            self._experiment = self._build()
        return self._experiment

    @property
    def class_names(self):
        """The K class names, in the order of the model's outputs."""
        if self.plan is not None and self._gin_files:  # planned, not trained yet
            return list(self.plan.classes)
        return self.experiment.class_names()[0]

    def _build(self, extra=()):
        """A fresh Experiment of the run (its recipe, or its operative config)."""
        params = self._gin_params + list(extra)
        if self._gin_files:
            return runtime.experiment_from_gin(self._gin_files, params, self.model_dir)
        return runtime.experiment_for(self.model_dir, (), params)

    def _restored(self):
        """The experiment with the run's checkpoint restored (once)."""
        if self._serving is None:
            self._check_trained()
            from jacktf.serve import export
            from jacktf.core.checkpoint_paths import step_in_name
            path = self.experiment.restore_latest(self.checkpoint)
            # A multi-label model answers with the thresholds tuned for this checkpoint,
            # as its export does.
            self.experiment.use_thresholds(step_in_name(path))
            self._serving = export.ServingModule(self.experiment.model, self.class_names)
        return self.experiment

    def _check_trained(self):
        if self.plan is not None and self._gin_files and not os.path.isdir(
                os.path.join(self.model_dir, 'checkpoints')):
            raise ConfigError(f'{self.model_dir} has no checkpoint yet: call '
                              'learn.fine_tune() first.')

    def fine_tune(self, epochs=None, *, lr=None, steps=None, **options):
        """Trains the run as `jacktf train DATA` does (the same controller, callbacks,
        model directory layout and defaults), resuming from MODEL_DIR's checkpoint.

        Args:
          epochs: TRAIN_EPOCHS, the run's total (None: from_folder's, else the
            recipe's); calling again with more epochs trains on from the checkpoint.
          lr: LEARNING_RATE (None: from_folder's, else the recipe's).
          steps: the run's length in steps instead of epochs (TRAIN_STEPS).
          **options: more bindings by gin name for this run.

        Returns:
          The front door's summary of the run (a dict).

        Raises:
          ConfigError: a Learner made by :meth:`load` (train its data with
            ``Learner.from_folder(DATA, model_dir=...)``), bad options; DataError.
        """
        from jacktf.app import front_door, run_summary
        if self.plan is None:
            raise ConfigError(f'fine_tune trains a run planned by Learner.from_folder; '
                              f'{self.model_dir} was opened with Learner.load. To train '
                              f'it on, use Learner.from_folder(DATA, model_dir='
                              f'{self.model_dir!r}).')
        if epochs is not None and steps is not None:
            raise ConfigError(f'fine_tune(epochs={epochs!r}, steps={steps!r}): give the '
                              "run's length one way, epochs or steps.")
        extra = {'TRAIN_EPOCHS': epochs, 'TRAIN_STEPS': None} if epochs is not None else {}
        if steps is not None:
            extra = {'TRAIN_STEPS': steps, 'TRAIN_EPOCHS': None}
        if lr is not None:
            extra['LEARNING_RATE'] = lr
        params = self.plan.gin_params + learner_io.bindings((), dict(extra, **options))
        self.plan = dataclasses.replace(self.plan, gin_params=params)
        self._gin_params = params
        self._experiment = self._serving = self._evaluated = None
        summary = front_door.train(self.plan)
        for line in run_summary.format_summary(summary).splitlines():
            log.info(line)
        # From now on the run is what its operative config says, as Learner.load sees it.
        self._gin_files, self._gin_params = None, []
        return summary
