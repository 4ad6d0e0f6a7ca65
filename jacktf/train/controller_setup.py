"""How the Controller sets up one run: the model, optimizer, global step, checkpoint
and its manager (resume or warm start), the variables of each stage, the summary
writers. A mixin of jacktf.train.controller.Controller, which holds the loop."""

import logging
import os
import tempfile

import tensorflow as tf

from jacktf.core import scopes
from jacktf.core.errors import ConfigError
from jacktf.optim import lr_scaling
from jacktf.train import recovery, resume, strategy as strategy_lib
from jacktf.train.callbacks.checkpoints import PeriodicCheckpoints
from jacktf.train.checkpointing import checkpoint_manager

log = logging.getLogger('jacktf')


class ControllerSetup:
    """The setup steps of the Controller (see its docstring for the attributes)."""

    def _build(self):
        exp, model, trainer, strategy = self.inputs, self.model, self.trainer, \
            self.strategy
        model.precision, self.precision_note = strategy_lib.configure_precision(
            model.precision)
        strategy_lib.configure_seed(exp.seed, exp.deterministic)
        self.chief = strategy_lib.is_chief()
        if self.chief:
            exp.write_labels()
        per_replica = self.batch_size // strategy.num_replicas_in_sync
        if per_replica * strategy.num_replicas_in_sync != self.batch_size:
            raise ConfigError(f'BATCH_SIZE {self.batch_size} does not split evenly over '
                              f'{strategy.num_replicas_in_sync} replicas.')
        train_ds = strategy.distribute_datasets_from_function(
            lambda ctx: exp.dataset(exp.train_files, training=True, input_context=ctx,
                                    batch_size=per_replica))
        self.iterator = iter(train_ds)
        # In deterministic mode the iterator's position is part of every checkpoint.
        data = {'data': self.iterator} if exp.deterministic else {}
        with strategy.scope():
            model.build()
            self.variables, self.frozen = self._split_variables()
            if not trainer.stages:
                model.set_frozen_batch_norm(trainer.is_frozen,
                                            warm_started=bool(exp.checkpoint_path))
            self.lr_scale = tf.Variable(1.0, trainable=False, name='lr_scale')
            lr_scaling.apply(trainer, self.batch_size * trainer.accumulate_steps)
            self.optimizer = strategy_lib.wrap_optimizer(
                trainer.optimizer_factory(trainer.learning_rate_fn(self.lr_scale)),
                model.precision)
            # Slots exist before any checkpoint, so every restore (resume, divergence
            # guard) resets them too.
            getattr(self.optimizer, 'inner_optimizer', self.optimizer).build(
                self.all_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
            model.network.step_source = lambda: self.step  # NASNet's drop-path schedule
            self.ema = trainer.make_ema(self.all_variables)
            extra = {'ema_shadows': [self.ema.average(v) for v in self.all_variables]} \
                if self.ema else {}
            if trainer.stages:  # the stage index, in every checkpoint
                self.stage_variable = tf.Variable(0, dtype=tf.int64, trainable=False,
                                                  name='stage')
                extra['stage'] = self.stage_variable
            self.checkpoint = tf.train.Checkpoint(
                network=model.network, optimizer=self.optimizer, step=self.step,
                lr_scale=self.lr_scale, skipped_records=self.counters['skipped'],
                skipped_record_names=self.counters['seen'], **extra, **data)
        # Only the chief writes into MODEL_DIR; other workers of a multi-worker run take
        # part in every (collective) save, into a private folder, and resume from the
        # chief's checkpoints.
        self.write_dir = self.model_dir if self.chief else \
            tempfile.mkdtemp(prefix='jacktf-worker-')

    def _restore(self):
        # The newest checkpoint that reads whole; the chief sets damaged ones aside.
        latest, moved = recovery.recover(os.path.join(self.model_dir, 'checkpoints'),
                                         repair=self.chief)
        if self.chief:
            recovery.clear_leftovers(self.model_dir)
            if self.state.created is not None:
                self.state.created.keep(moved)  # a failed start never deletes them
        resumed = resume.initialize(self.inputs, self.model, self.checkpoint,
                                    self.frozen, self.chief, latest=latest,
                                    model_dir=self.model_dir,
                                    train_steps=self.trainer.train_steps)
        policy = self.callbacks.find(PeriodicCheckpoints)
        self.manager = checkpoint_manager(self.checkpoint, self.write_dir,
                                          **(policy.manager_options() if policy else {}))
        if self.ema is not None and int(self.step.numpy()) == 0:
            for v in self.all_variables:  # averages start from the (warm-started) weights
                self.ema.average(v).assign(v)
        return resumed

    def _split_variables(self):
        """(this run's trainable variables: those of any stage; never-trained names)."""
        trainer, model = self.trainer, self.model
        if not trainer.stages:
            self.all_variables, frozen = trainer.split_variables(model)
            return self.all_variables, frozen
        ids = set()
        for index in range(len(trainer.stages)):
            ids.update(id(v) for v in trainer.for_stage(index).split_variables(model)[0])
        candidates = model.network.trainable_variables
        self.all_variables = [v for v in candidates if id(v) in ids]
        frozen = [scopes.var_name(v.name) for v in candidates if id(v) not in ids]
        return self.all_variables, frozen

    def _enter_stage(self, index):
        """Makes stage ``index`` current: its variables, batch norm and train step."""
        trainer, model = self.trainer.for_stage(index), self.model
        self.stage = index
        if self.trainer.stages:
            stage = self.trainer.stages[index]
            self.variables, _ = trainer.split_variables(model)
            policy = model.train_batch_norm
            model.train_batch_norm = stage.batch_norm_policy(model)
            try:  # takes effect in the train step traced below
                model.set_frozen_batch_norm(
                    trainer.is_frozen, warm_started=bool(self.inputs.checkpoint_path))
            finally:
                model.train_batch_norm = policy
            self.stage_variable.assign(index)
            log.info('Stage %d of %d: steps %d..%d, %d trainable variables.', index + 1,
                     len(self.trainer.stages), *self.trainer.stage_spans[index],
                     len(self.variables))
        return trainer.make_train_step(model, self.optimizer, self.variables,
                                       self.batch_size, self.strategy, ema=self.ema,
                                       seed=self.seed, forward=self.feature_cache and
                                       self.feature_cache.forward(model))

    def _writer(self, name):
        return tf.summary.create_file_writer(
            os.path.join(self.model_dir, name) if self.chief else tempfile.mkdtemp())
