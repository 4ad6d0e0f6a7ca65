"""Trainer: the training settings (steps, optimizer, learning rate, freeze rules, ...).

The inner step lives in jacktf.train.step; the outer loop in jacktf.train.controller.
"""

import logging
import math

import tensorflow as tf

from jacktf.core import scopes
from jacktf.core.errors import ConfigError
from jacktf.optim import lr_scaling as lr_scaling_lib
from jacktf.train import balance, stages as stages_lib, step
from jacktf.train.deprecations import UNSET, deprecated_settings

log = logging.getLogger('jacktf')


class Trainer:
    """Trains a Model with a custom loop.

    Args:
      train_steps: total optimizer steps of the run (TRAIN_STEPS); None when the run
        is given in epochs.
      train_epochs: the run's length in epochs (TRAIN_EPOCHS) instead of steps: one
        epoch is ceil(training examples / (BATCH_SIZE * accumulate_steps)) optimizer
        steps, so the run is ceil(train_epochs * that) steps. The example count comes
        from the converter's dataset.json, or one counting pass over TRAIN_FILES.
        Setting both train_steps and train_epochs is an error.
      optimizer: optimizer factory ``fn(learning_rate) -> optimizer`` (a plugin).
      lr_schedule: schedule factory ``fn(learning_rate) -> schedule`` or None (fixed).
      learning_rate: the initial learning rate.
      freeze_scopes: variables under these scopes do not train; their batch norm runs
        in inference mode.
      trainable_scopes: when set, only variables under these scopes train.
      label_smoothing: cross-entropy label smoothing.
      aux_loss_weight: weight of the auxiliary logits' loss when the network has them
        (inception_v3 with create_aux_logits=True and the native head); slim's 0.4.
      clip_gradient_norm: clip gradients by this global norm (None: no clipping).
      lr_multipliers: {scope rule: factor} scaling the gradients (and so, for SGD and
        momentum, the learning rate) of the variables under the scope, e.g.
        {'resnet_v1_50': 0.1} trains the backbone at a tenth of the head's rate. The
        rule 'backbone' means the backbone's own root scope, whichever backbone it is
        ({'backbone': 0.1}: the discriminative rate of fastai's fine_tune). A rule that
        matches no variable is an error.
      moving_average_decay: keep an exponential moving average of the trainable weights
        (saved in checkpoints, used for evaluation and export); None turns it off.
      jit_compile: compile each replica's forward and backward pass with XLA.
      accumulate_steps: average the gradients of this many batches before each
        optimizer step: the effective batch is accumulate_steps * BATCH_SIZE (the
        learning rate and TRAIN_STEPS count optimizer steps), at the memory of one
        batch. Batch norm still normalizes over each batch of BATCH_SIZE.
      stages: stages of training (``[@head/stage(), @all/stage()]``, see
        jacktf.train.stages): each with its own trainable/freeze scopes, learning rate,
        multipliers, warmup and batch-norm policy; the stage is in every checkpoint.
      callbacks: extra callbacks (jacktf.train.callbacks.Callback instances, e.g.
        ``[@early_stopping()]`` in gin), called after the built-in ones.
      class_weight: weights of each class in the training loss (Keras' class_weight):
        'balanced' (scikit-learn's rule, n_examples / (n_classes * count of the class),
        from the training set's counts), a list with one weight per class, or a dict
        {class index or name: weight} (other classes 1.0). Each example's loss is
        multiplied by its class's weight, then averaged over the batch. Only the
        training loss is weighted; accuracy and every eval metric are not.
      feature_cache: when nothing below the head trains, run the backbone once per
        example and train the head on the cached features (jacktf.train.feature_cache).
        'auto': when the training input is also deterministic (no augmentation);
        True: also with augmentation, which the cache then turns off (the head trains
        on the eval preprocessing of each image); False: never.
      feature_cache_memory_mb: cached features up to this size train from memory;
        larger ones from their file under MODEL_DIR/feature_cache.
      log_every_steps, progress_bar, checkpoint_every_steps, checkpoint_every_seconds,
        keep_best, nan_retries, nan_lr_factor, eval_every_steps, eval_every_epochs,
        max_to_keep, keep_checkpoint_every_n_hours: deprecated, each now an option of
        the callback that uses it (jacktf.train.deprecations.DEPRECATED_OPTIONS:
        ``progress.every_steps``, ``periodic_eval.every_steps``,
        ``periodic_checkpoints.max_to_keep``, ...); a value given here still configures
        that callback for one release, with one deprecation line.
      reference_batch_size: the global batch LEARNING_RATE (and the stages' rates) were
        tuned at (a recipe sets its BATCH_SIZE here); None: no scaling.
      lr_scaling: how the rates follow another global batch (BATCH_SIZE x
        accumulate_steps): 'auto' (linear for sgd and momentum, square root for adaptive
        optimizers), 'linear', 'sqrt', or False (the rates as given). See
        jacktf.optim.lr_scaling.
    """

    def __init__(self, *, train_steps=None, optimizer, lr_schedule=None, learning_rate=0.01,
                 freeze_scopes=(), trainable_scopes=(), label_smoothing=0.0,
                 aux_loss_weight=0.4, clip_gradient_norm=None, lr_multipliers=None,
                 moving_average_decay=None, jit_compile=False, accumulate_steps=1,
                 stages=(), callbacks=(), train_epochs=None, class_weight=None,
                 feature_cache='auto', feature_cache_memory_mb=1024,
                 reference_batch_size=None, lr_scaling='auto', log_every_steps=None,
                 progress_bar=None, checkpoint_every_steps=None,
                 checkpoint_every_seconds=None, keep_best=None, nan_retries=None,
                 nan_lr_factor=None, eval_every_steps=UNSET, eval_every_epochs=UNSET,
                 max_to_keep=UNSET, keep_checkpoint_every_n_hours=UNSET):
        _check_length_and_rate(train_steps, train_epochs, learning_rate, optimizer)
        _check_options(moving_average_decay, accumulate_steps, feature_cache, callbacks)
        self.train_steps = None if train_steps is None else int(train_steps)
        self.train_epochs = train_epochs
        self.class_weight = class_weight
        balance.check_class_weight(class_weight)
        # One weight per class: a list as given; 'balanced' and dicts once the data is
        # known (resolve).
        self.class_weights = [float(w) for w in class_weight] \
            if isinstance(class_weight, (list, tuple)) else None
        self.steps_per_epoch = None
        self.optimizer_factory = optimizer
        self.lr_schedule_factory = lr_schedule
        self.learning_rate = float(learning_rate)
        self.freeze_scopes = scopes.parse_scopes(freeze_scopes)
        self.trainable_scopes = scopes.parse_scopes(trainable_scopes)
        self.label_smoothing = float(label_smoothing)
        self.aux_loss_weight = float(aux_loss_weight)
        self.clip_gradient_norm = clip_gradient_norm
        self.lr_multipliers = dict(lr_multipliers or {})
        self.moving_average_decay = moving_average_decay
        self.jit_compile = bool(jit_compile)
        self.accumulate_steps = int(accumulate_steps)
        self.stages = list(stages or ())
        self.stage_spans = None
        if not self.needs_epoch_length:
            self._set_spans()
        self.callbacks = list(callbacks or ())
        self.feature_cache = feature_cache
        self.feature_cache_memory_mb = float(feature_cache_memory_mb)
        self.callback_settings = deprecated_settings(dict(
            log_every_steps=log_every_steps, progress_bar=progress_bar,
            checkpoint_every_steps=checkpoint_every_steps,
            checkpoint_every_seconds=checkpoint_every_seconds, keep_best=keep_best,
            nan_retries=nan_retries, nan_lr_factor=nan_lr_factor,
            eval_every_steps=eval_every_steps, eval_every_epochs=eval_every_epochs,
            max_to_keep=max_to_keep,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours))
        lr_scaling_lib.check_rule(lr_scaling)
        self.lr_scaling = lr_scaling
        self.reference_batch_size = reference_batch_size

    def _set_spans(self):
        self.stage_spans = stages_lib.boundaries(
            self.stages, self.train_steps, self.steps_per_epoch) if self.stages else \
            [(0, self.train_steps)]

    @property
    def needs_epoch_length(self):
        """True when the run's length or a stage's is given in epochs, so the training
        set must be counted before training (an evaluation interval in epochs:
        PeriodicEval.needs_epoch_length)."""
        return self.train_epochs is not None or \
            any(getattr(s, 'epochs', None) is not None for s in self.stages)

    def resolve(self, steps_per_epoch=None, class_counts=None, class_names=None,
                num_classes=None):
        """Fixes what depends on the training data: the run's length and stages in
        steps (from ``steps_per_epoch``) and the class weights (from ``class_counts``).

        Raises:
          ConfigError: epochs are used but ``steps_per_epoch`` is unknown; bad class
            weights.
        """
        if steps_per_epoch is not None:
            self.steps_per_epoch = int(steps_per_epoch)
        if self.needs_epoch_length and not self.steps_per_epoch:
            raise ConfigError('The run is given in epochs but the training examples '
                              'could not be counted.')
        if self.train_epochs is not None:
            self.train_steps = max(1, math.ceil(self.train_epochs * self.steps_per_epoch))
        self._set_spans()
        self.class_weights = balance.class_weights(self.class_weight, class_counts,
                                                   class_names, num_classes)

    def learning_rate_fn(self, scale=None):
        """The schedule; times ``scale`` (a variable the divergence guard lowers)."""
        if self.stages:
            base = stages_lib.StagedSchedule(self, self.stages, self.stage_spans)
        elif self.lr_schedule_factory is None:
            base = self.learning_rate
        else:
            base = step.schedule_for_run(self.lr_schedule_factory, self.learning_rate,
                                         self.train_steps)
        return base if scale is None else step.ScaledSchedule(base, scale)

    def gradient_multipliers(self, variables, backbone_scope=None):
        """Per-variable gradient factors from lr_multipliers (the first rule that matches).

        The rule 'backbone' may match nothing: a frozen backbone has no trainable
        variable, and its multiplier then has nothing to scale.

        Raises:
          ConfigError: a rule other than 'backbone' matches none of ``variables``.
        """
        rules = {(backbone_scope if rule == 'backbone' and backbone_scope else rule): f
                 for rule, f in self.lr_multipliers.items()}
        names = [scopes.var_name(v.name) for v in variables]
        given = [rule for rule in self.lr_multipliers if rule != 'backbone']
        bad = scopes.unmatched_rules(names, given)
        if bad:
            raise ConfigError(f'Trainer.lr_multipliers rules match no trainable variable: '
                              f"{bad}. Scopes start with {backbone_scope!r}; the rule "
                              "'backbone' means the whole backbone. Correct the rule, or "
                              'remove it (Trainer.lr_multipliers = {} scales nothing).')
        return [float(next((f for rule, f in rules.items()
                            if scopes.rule_matches(rule, name)), 1.0)) for name in names]

    def split_variables(self, model):
        """(trainable variables, frozen variable names) by the freeze rules."""
        candidates = {scopes.var_name(v.name): v for v in model.network.trainable_variables}
        names = scopes.trainable(candidates, freeze_scopes=self.freeze_scopes,
                                 trainable_scopes=self.trainable_scopes)
        for rules, label in ((self.freeze_scopes, 'FREEZE_SCOPES'),
                             (self.trainable_scopes, 'trainable_scopes')):
            bad = scopes.unmatched_rules(model.variable_names(), rules)
            if bad:
                raise ConfigError(f'{label} rules match no model variable: {bad}. '
                                  f'Scopes start with {model.card.scope!r}.')
        if not names:
            raise ConfigError('Every variable is frozen: nothing would train. Loosen '
                              'FREEZE_SCOPES or trainable_scopes.')
        keep = set(names)
        frozen = [n for n in candidates if n not in keep]
        return [candidates[n] for n in names], frozen

    def is_frozen(self, name):
        """True when the freeze rules keep ``name`` (any variable name) from training."""
        return not scopes.trainable([name], freeze_scopes=self.freeze_scopes,
                                    trainable_scopes=self.trainable_scopes)

    def make_ema(self, variables):
        """The moving average with its shadow variables created (None when off)."""
        if not self.moving_average_decay:
            return None
        ema = tf.train.ExponentialMovingAverage(self.moving_average_decay)
        ema.apply(variables)
        return ema

    def make_train_step(self, model, optimizer, variables, global_batch, strategy,
                        ema=None, seed=0, forward=None):
        """The tf.function running one step on every replica (see jacktf.train.step)."""
        return step.make_train_step(self, model, optimizer, variables, global_batch,
                                    strategy, ema=ema, seed=seed, forward=forward)

    def for_stage(self, index):
        """This trainer with stage ``index``'s freeze rules and multipliers (itself
        without stages)."""
        return self.stages[index].trainer_view(self) if self.stages else self

    def stage_at(self, step):
        """The stage index of the step after ``step`` completed steps."""
        return stages_lib.stage_at(self.stage_spans, step)

    first_nonfinite_gradient = staticmethod(step.first_nonfinite_gradient)


def _check_length_and_rate(train_steps, train_epochs, learning_rate, optimizer):
    """Raises ConfigError for a run length, rate or optimizer that cannot work, saying
    how to fix it."""
    if train_steps is not None and train_epochs is not None:
        raise ConfigError(
            f'TRAIN_STEPS = {train_steps} and TRAIN_EPOCHS = {train_epochs} are both '
            'set: give the run\'s length one way. Set the other to None, e.g. '
            '--gin_param="TRAIN_STEPS = None" --gin_param="TRAIN_EPOCHS = '
            f'{train_epochs}".')
    if train_steps is None and train_epochs is None:
        raise ConfigError('Neither TRAIN_STEPS nor TRAIN_EPOCHS is set: set one, e.g. '
                          'TRAIN_EPOCHS = 10.')
    if train_steps is not None and int(train_steps) <= 0:
        raise ConfigError(f'TRAIN_STEPS must be > 0, got {train_steps}.')
    if train_epochs is not None and not train_epochs > 0:
        raise ConfigError(f'TRAIN_EPOCHS must be > 0, got {train_epochs}.')
    if not learning_rate or learning_rate <= 0:
        raise ConfigError(f'LEARNING_RATE must be > 0, got {learning_rate}.')
    if not callable(optimizer):
        raise ConfigError(f'Trainer.optimizer must be an optimizer plugin such as '
                          f'@momentum, got {optimizer!r}.')


def _check_options(moving_average_decay, accumulate_steps, feature_cache, callbacks):
    """Raises ConfigError for a moving-average decay, accumulation, feature-cache mode or
    callback list that cannot work, saying how to fix it."""
    if moving_average_decay is not None and not 0 < moving_average_decay < 1:
        raise ConfigError('moving_average_decay must be in (0, 1) or None, got '
                          f'{moving_average_decay}.')
    if int(accumulate_steps) < 1:
        raise ConfigError(f'Trainer.accumulate_steps must be >= 1, got '
                          f'{accumulate_steps}.')
    if feature_cache not in ('auto', True, False):
        raise ConfigError(f"Trainer.feature_cache must be 'auto', True or False, got "
                          f'{feature_cache!r}.')
    for callback in callbacks or ():
        if not hasattr(callback, 'on_step_end'):
            raise ConfigError(f'Trainer.callbacks takes callbacks such as '
                              f'@early_stopping() (note the parentheses), got '
                              f'{callback!r}. Run `jacktf plugins --kind callback`.')
