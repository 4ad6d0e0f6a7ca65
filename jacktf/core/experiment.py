"""Experiment: one run of train / eval / train_and_eval in a model directory.

The controller: builds the input pipelines, restores (resume from the model directory,
else warm start from CHECKPOINT_PATH), runs the trainer's step in a loop, writes
checkpoints, TensorBoard summaries and progress lines, evaluates periodically and ends
with a summary. Everything a run needs to resume or be audited is in the model directory.
"""

import contextlib
import logging
import os
import random
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf

from jacktf.core import compat, fingerprint
from jacktf.core import strategy as strategy_lib
from jacktf.core.rundir import CreatedFiles
from jacktf.core.signals import StopRequests, Stopped
from jacktf.core import metrics as metrics_lib
from jacktf.core.errors import ConfigError, JacktfError, RestoreError
from jacktf.core.checkpoint_paths import resolve_checkpoint
from jacktf.core.restore import restore_from_checkpoint
from jacktf.core.checkpointing import BestCheckpoints, checkpoint_manager
from jacktf.core.trainer import (ProgressLine, averaged_weights, current_lr as _current_lr,
                                 data_errors as _data_errors)
from jacktf.data import pipeline, preflight
from jacktf.serve import export
from jacktf.pretrained import builtin

log = logging.getLogger('jacktf')
MODES = ('train_and_eval', 'train', 'eval')
BN_GAP_WARNING = 0.25  # train minus eval accuracy that triggers the batch-norm hint
# Seconds a main thread blocked in TensorFlow gets after SIGTERM/SIGINT before the
# process is ended: before the first step there is nothing to save; in training, at
# least STEP_GRACE_FACTOR times the slowest step so far.
START_GRACE_SECONDS = 3.0
LOOP_GRACE_SECONDS = 5.0
STEP_GRACE_FACTOR = 3.0
FORCED_SAVE_SECONDS = 20.0


class TrainingDiverged(JacktfError):
    """The loss stayed non-finite after the configured retries."""


class Experiment:
    """Wires a Model, input files, a Trainer and warm-start rules to a model directory.

    Args:
      model_dir: where checkpoints, summaries, configs and exports go.
      model: a jacktf Model (``@Model()`` in gin).
      trainer: a Trainer (``@Trainer()`` in gin).
      train_files / eval_files: TFRecord globs or demo://split.
      batch_size: global batch size.
      decoder: a registered decoder name, or ``@name`` in gin (then the decoder's own
        options apply, e.g. ``tfexample_classification.image_key = 'image'``).
      checkpoint_path: slim or jacktf checkpoint to warm-start from (None: scratch).
      checkpoint_exclude_scopes: variables not restored from checkpoint_path.
      scope_map: {model scope: checkpoint scope} for checkpoints with another root.
      shuffle_buffer: examples in the training shuffle buffer.
      eval_batch_size: batch size for evaluation (default batch_size).
      seed: makes data order and initialization repeatable.
      skip_corrupt: skip (and count) corrupt, truncated or oversized records instead of
        stopping at the first one.
      max_pixels: records whose image header declares more pixels are bad records.
      export_at_end: export a SavedModel (checked for parity) when training ends.
      strategy: 'default', 'mirrored' or 'multi_worker_mirrored' (TF_CONFIG).
      deterministic: repeatable training: seeded initialization, deterministic ops,
        data order and augmentation (seed 0 unless ``seed`` is set), and the input
        iterator's position saved in every checkpoint, so a run that is stopped or
        killed and resumed ends with the same weights as one that was not. Checkpoints
        then also hold the shuffle buffer. One device ('default' strategy) only.
    """

    def __init__(self, *, model_dir, model, trainer, train_files, eval_files=None,
                 batch_size=32, decoder='tfexample_classification', checkpoint_path=None,
                 checkpoint_exclude_scopes=(), scope_map=None, shuffle_buffer=2048,
                 eval_batch_size=None, seed=None, skip_corrupt=True,
                 max_pixels=pipeline.DEFAULT_MAX_PIXELS, export_at_end=True,
                 strategy='default', deterministic=False, after_first_step=None):
        # First: multi-worker collectives must be configured before any TF op runs.
        self.strategy = strategy_lib.make_strategy(strategy)
        if not model_dir:
            raise ConfigError('MODEL_DIR is not set: give --model_dir or bind MODEL_DIR.')
        if int(batch_size) <= 0:
            raise ConfigError(f'BATCH_SIZE must be > 0, got {batch_size}.')
        self.model_dir = model_dir
        self.model = model
        self.trainer = trainer
        self.train_files = train_files
        self.eval_files = eval_files
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        if isinstance(decoder, str):
            self.decoder_name = decoder
            self.decode_fn = model.registry.get('decoder', decoder).factory()
        else:
            entry = getattr(decoder, 'jacktf_entry', None)
            if entry is None or entry.kind != 'decoder':
                raise ConfigError(f'Experiment.decoder must be a registered decoder name or '
                                  f'@decoder_name in gin, got {decoder!r}. Run `jacktf '
                                  'plugins --kind decoder`.')
            self.decoder_name = entry.name
            self.decode_fn = decoder()
        self.checkpoint_path = checkpoint_path
        self.checkpoint_exclude_scopes = checkpoint_exclude_scopes
        self.scope_map = scope_map
        self.shuffle_buffer = shuffle_buffer
        self.deterministic = bool(deterministic)
        if self.deterministic and strategy != 'default':
            raise ConfigError(
                f'Experiment.deterministic needs strategy="default" (one device), got '
                f'{strategy!r}: TensorFlow cannot checkpoint the position of a '
                'distributed input iterator, so a resumed run would read other data.')
        self.seed = 0 if seed is None and self.deterministic else seed
        self.skip_corrupt = bool(skip_corrupt)
        self.max_pixels = int(max_pixels)
        self.counters = pipeline.make_counters()
        self.export_at_end = bool(export_at_end)
        self.after_first_step = after_first_step
        self._stop = None  # the active StopRequests of run()
        self._created = None  # what run() found in MODEL_DIR before writing
        self._stepped = False  # a training step of this run has completed
        self._in_step = False  # the main thread is inside a training step
        self._blocked_save = None  # saves the last completed step (see _forced_stop)

    # -- input ---------------------------------------------------------------------
    def dataset(self, files, *, training, input_context=None, batch_size=None):
        model = self.model
        return pipeline.read_dataset(
            files, decode_fn=self.decode_fn,
            preprocess_fn=lambda image, t, seed: model.preprocess(image, t, seed),
            batch_size=batch_size or (self.batch_size if training else self.eval_batch_size),
            input_context=input_context,
            is_training=training, num_classes=model.num_classes,
            shuffle_buffer=self.shuffle_buffer, seed=self.seed,
            skip_corrupt=self.skip_corrupt, max_pixels=self.max_pixels,
            counters=self.counters)

    def _class_names(self):
        """Class names of TRAIN_FILES (labels.txt or class folders), checked; or None."""
        names = pipeline.labels_for(self.train_files)
        if names is None or len(names) == self.model.num_classes:
            return names
        first = pipeline.list_files(self.train_files)[0]
        source = f'The image folder {first} has {len(names)} class folders' if \
            tf.io.gfile.isdir(first) else \
            f'labels.txt next to {self.train_files} lists {len(names)} classes'
        raise ConfigError(f'{source} ({", ".join(names[:10])}'
                          f'{", ..." if len(names) > 10 else ""}) but NUM_CLASSES is '
                          f'{self.model.num_classes}. Set NUM_CLASSES = {len(names)}.')

    def _copy_labels(self):
        names = self._class_names()
        if names is None:
            return None
        path = os.path.join(self.model_dir, 'labels.txt')
        text = '\n'.join(names) + '\n'
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                if f.read() == text:
                    return names
        with tf.io.gfile.GFile(path + '.tmp', 'w') as f:
            f.write(text)
        tf.io.gfile.rename(path + '.tmp', path, overwrite=True)
        return names

    def check_input(self, mode='train_and_eval'):
        """Checks the input files (and labels.txt) of ``mode``; writes nothing.

        Raises:
          DataError / ConfigError: naming the file, the cause and the fix.
        """
        train = eval_ = ()
        if mode != 'eval':
            train = preflight.check_input(self.train_files, self.decode_fn,
                                          setting='TRAIN_FILES', decoder=self.decoder_name)
            self._class_names()
        if self.eval_files and mode != 'train':
            eval_ = preflight.check_input(self.eval_files, self.decode_fn,
                                          setting='EVAL_FILES', decoder=self.decoder_name)
        shared = sorted(set(map(os.path.abspath, train)) & set(map(os.path.abspath, eval_)))
        if shared:
            log.warning('EVAL_FILES and TRAIN_FILES share %d file(s) (%s%s): the eval '
                        'accuracy is then measured on training data. Give each split its '
                        "own files, e.g. 'DIR/train-*.tfrecord' and "
                        "'DIR/validation-*.tfrecord'.", len(shared), shared[0],
                        ', ...' if len(shared) > 1 else '')

    # -- modes ---------------------------------------------------------------------
    def run(self, mode='train_and_eval'):
        """Runs ``mode`` after checking its input, before anything is written.

        SIGTERM/SIGINT stop the run in every phase (see jacktf.core.signals). A run that
        fails or is stopped before its first training step removes what it created in
        MODEL_DIR; what was there before is never touched.

        Returns:
          The summary of train() or the report of evaluate_latest(); with
          ``stopped_by`` when a signal stopped the run.
        """
        if mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {mode!r}.')
        with StopRequests(grace_seconds=START_GRACE_SECONDS,
                          on_force=self._forced_stop) as stop:
            self._stop, self._stepped = stop, False
            try:
                with stop.interruptible():
                    self.check_input(mode)
                    if strategy_lib.is_chief():
                        self._created = CreatedFiles(self.model_dir)
                    tf.io.gfile.makedirs(self.model_dir)
                    if mode == 'eval':
                        return self.evaluate_latest()
                    return self.train(evaluate=mode == 'train_and_eval')
            except BaseException as e:
                if not self._stepped:
                    self._take_back()
                if not isinstance(e, Stopped):
                    raise
                latest = tf.train.latest_checkpoint(
                    os.path.join(self.model_dir, 'checkpoints')) if self._stepped else None
                if latest:
                    log.info('%s received: stopped; run the same command to resume from %s.',
                             e.signal_name, latest)
                else:
                    log.info('%s received before the first training step: stopped; '
                             'nothing was saved.', e.signal_name)
                return {'stopped_by': e.signal_name, 'checkpoint': latest,
                        'model_dir': self.model_dir}
            finally:
                self._stop = self._created = None

    def _take_back(self):
        """Removes what this run created in MODEL_DIR (a start that failed)."""
        if self._created is None:
            return []
        removed = self._created.remove()
        if removed:
            log.info('Removed what this run had created: %s', ', '.join(removed))
        return removed

    def _forced_stop(self, name):
        """Called from the signal watcher thread just before a forced exit."""
        grace = self._stop.grace_seconds if self._stop else 0
        if not self._stepped:
            self._take_back()
            log.warning('%s received before the first training step while TensorFlow was '
                        'busy (building the model or filling the input pipeline): stopped '
                        'after %.0f s; nothing was saved.', name, grace)
            return
        saved = None
        if self._in_step and self._blocked_save is not None:
            result = []
            saver = threading.Thread(target=lambda: result.append(self._blocked_save()),
                                     daemon=True)
            saver.start()
            saver.join(FORCED_SAVE_SECONDS)
            saved = result[0] if result else None
        latest = saved or tf.train.latest_checkpoint(
            os.path.join(self.model_dir, 'checkpoints'))
        log.warning('%s received, but the training step did not finish within %.0f s (the '
                    'input pipeline is blocked or slow): stopped %s. Run the same command '
                    'to resume from %s.', name, grace,
                    f'after saving {saved}' if saved else 'without a new checkpoint', latest)

    def restore_latest(self, checkpoint=None):
        """Loads a checkpoint of this model directory (the latest by default)."""
        self.model.build()
        path = self._find_checkpoint(checkpoint)
        variables, _ = self.trainer.split_variables(self.model)
        ema = self.trainer.make_ema(variables)
        extra = {'ema_shadows': [ema.average(v) for v in variables]} if ema else {}
        tf.train.Checkpoint(network=self.model.network, **extra).restore(
            path).expect_partial()
        if ema is not None:  # inference from a checkpoint uses the averaged weights
            for v in variables:
                v.assign(ema.average(v))
        return path

    def _find_checkpoint(self, checkpoint=None):
        """A checkpoint prefix: ``checkpoint`` (a prefix or a folder's latest), else the
        latest of MODEL_DIR/checkpoints. Raises ConfigError naming what is missing."""
        if checkpoint:  # the same forms CHECKPOINT_PATH takes (.index, folders, ...)
            try:
                return resolve_checkpoint(checkpoint, '--checkpoint')
            except RestoreError as e:
                raise ConfigError(str(e)) from None
        ckpt_dir = os.path.join(self.model_dir, 'checkpoints')
        path = tf.train.latest_checkpoint(ckpt_dir)
        if path is None:
            state = 'is empty' if tf.io.gfile.isdir(ckpt_dir) else 'does not exist'
            raise ConfigError(f'No checkpoint in {ckpt_dir} (the folder {state}): train '
                              f'first (python -m jacktf.run --gin_file RECIPE --model_dir '
                              f'{self.model_dir}), or give --checkpoint PREFIX.')
        return path

    def class_names(self):
        """(names, labels.txt path or None): the model directory's labels.txt, else the
        ImageNet names for a native head of the official class count, else indexes."""
        names, path = export.read_labels(self.model_dir, self.model.num_classes)
        if path is None and self.model.native and \
                self.model.num_classes == self.model.card.num_classes_official:
            names = builtin.official_class_names(self.model.num_classes) or names
        return names, path

    def evaluate_latest(self, checkpoint=None, saved_model=None):
        """Full evaluation report of a checkpoint (or a SavedModel) on EVAL_FILES."""
        if not self.eval_files:
            raise ConfigError('EVAL_FILES is not set: nothing to evaluate.')
        names, _ = self.class_names()
        labels, probabilities = [], []
        report_dir = os.path.join(self.model_dir, 'eval')
        if saved_model:
            source, note = export.find_saved_model(saved_model)
            if note:
                log.info(note)
            _, serve = export.load_saved_model(source)
            # Next to the checkpoint's report, not over it.
            report_dir = os.path.join(report_dir, f'saved_model_{os.path.basename(source)}')
            raw = pipeline.raw_records(self.eval_files, self.decode_fn)
            if self.skip_corrupt:  # as the checkpoint path does
                raw = raw.map(lambda r: (r, tf.io.decode_image(
                    r['encoded'], channels=3, expand_animations=False))).ignore_errors()
                raw = raw.map(lambda r, _: r)
            for batch in raw.batch(self.eval_batch_size):
                probabilities.append(serve(images=batch['encoded'])['probabilities'].numpy())
                labels.append(batch['label'].numpy())
            if probabilities and probabilities[0].shape[1] != len(names):
                raise ConfigError(
                    f'The SavedModel {source!r} has {probabilities[0].shape[1]} classes but '
                    f'this model directory has {len(names)} ({self.model_dir}/labels.txt, '
                    'NUM_CLASSES). Give the --model_dir the SavedModel was exported from.')
        else:
            source = self.restore_latest(checkpoint)
            predict = tf.function(lambda x: tf.nn.softmax(
                self.model.predict(x, training=False)['logits']), reduce_retracing=True)
            try:
                for images, label in self.dataset(self.eval_files, training=False):
                    probabilities.append(predict(images).numpy())
                    labels.append(label.numpy())
            except tf.errors.InvalidArgumentError as e:
                raise pipeline.data_error(e) or e from None
            except tf.errors.DataLossError as e:
                raise preflight.damaged_data_error(e, self.eval_files, 'EVAL_FILES') \
                    from None
            if not labels:
                raise pipeline.no_usable_records(self.eval_files, self.counters,
                                                 'EVAL_FILES')
        report = metrics_lib.classification_report(np.concatenate(labels),
                                               np.concatenate(probabilities), names)
        report['source'] = source
        report['eval_files'] = str(self.eval_files)
        path = metrics_lib.write_report(report, report_dir)
        log.info('eval of %s: top-1 %.4f on %d examples; report %s', source,
                 report['top_1_accuracy'], report['examples'], path)
        return dict(report, report_path=path)

    def export(self, checkpoint=None, export_dir=None, restore=True):
        """Exports a SavedModel (TF Serving layout) and checks its parity."""
        path = self.restore_latest(checkpoint) if restore else None
        names, labels_path = self.class_names()
        step = os.path.basename(path or '').rsplit('-', 1)[-1]
        version = int(step) if path and step.isdigit() else None  # ckpt-600 -> export/600
        parity = export.parity_images(self.eval_files or self.train_files, self.decode_fn)
        return export.export_saved_model(
            self.model, export_dir or os.path.join(self.model_dir, 'export'),
            class_names=names, labels_path=labels_path, version=version,
            parity_encoded=parity)

    def _initialize(self, model, checkpoint, frozen, chief=True):
        latest = tf.train.latest_checkpoint(os.path.join(self.model_dir, 'checkpoints'))
        changes = fingerprint.check_or_write(
            self.model_dir, model, has_checkpoint=bool(latest),
            run={'batch_size': self.batch_size, 'train_steps': self.trainer.train_steps}
        ) if chief else []
        if latest:
            checkpoint.restore(latest).expect_partial()
            try:  # every network variable must come from the checkpoint
                tf.train.Checkpoint(network=model.network).restore(
                    latest).assert_existing_objects_matched()
            except AssertionError as e:
                raise ConfigError(f'{latest} does not hold this model\'s variables ({e}). '
                                  'Use a new --model_dir for this configuration.') from None
            log.info('Resuming from %s at step %d (CHECKPOINT_PATH is not applied to a '
                     'model directory that has its own checkpoints).', latest,
                     int(checkpoint.step.numpy()))
            if changes:
                log.info('Changed since the last run in this MODEL_DIR: %s.',
                         ', '.join(changes))
            return True
        if self.checkpoint_path:
            restore_from_checkpoint(
                model, self.checkpoint_path, exclude_scopes=self.checkpoint_exclude_scopes,
                scope_map=self.scope_map, frozen=frozen,
                report_path=os.path.join(self.model_dir, 'restore_report.json')
                if chief else None)
        else:
            log.warning('CHECKPOINT_PATH is None: training %s from scratch (random '
                        'initialization).', model.backbone_name)
        return False

    def train(self, evaluate=True):
        model, trainer = self.model, self.trainer
        strategy_lib.configure_precision(model.precision)
        strategy = self.strategy
        strategy_lib.configure_seed(self.seed, self.deterministic)
        chief = strategy_lib.is_chief()
        if chief:
            self._copy_labels()
        per_replica = self.batch_size // strategy.num_replicas_in_sync
        if per_replica * strategy.num_replicas_in_sync != self.batch_size:
            raise ConfigError(f'BATCH_SIZE {self.batch_size} does not split evenly over '
                              f'{strategy.num_replicas_in_sync} replicas.')
        train_ds = strategy.distribute_datasets_from_function(
            lambda ctx: self.dataset(self.train_files, training=True, input_context=ctx,
                                     batch_size=per_replica))
        iterator = iter(train_ds)
        # In deterministic mode the iterator's position is part of every checkpoint.
        data = {'data': iterator} if self.deterministic else {}
        with strategy.scope():
            model.build()
            variables, frozen = trainer.split_variables(model)
            model.set_frozen_batch_norm(trainer.is_frozen,
                                        warm_started=bool(self.checkpoint_path))
            lr_scale = tf.Variable(1.0, trainable=False, name='lr_scale')
            optimizer = strategy_lib.wrap_optimizer(
                trainer.optimizer_factory(trainer.learning_rate_fn(lr_scale)),
                model.precision)
            # Slots exist before any checkpoint, so every restore (resume, divergence
            # guard) resets them too.
            getattr(optimizer, 'inner_optimizer', optimizer).build(variables)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
            ema = trainer.make_ema(variables)
            extra = {'ema_shadows': [ema.average(v) for v in variables]} if ema else {}
            checkpoint = tf.train.Checkpoint(
                network=model.network, optimizer=optimizer, step=step, lr_scale=lr_scale,
                skipped_records=self.counters['skipped'],
                skipped_record_names=self.counters['seen'], **extra, **data)
        # Only the chief writes into MODEL_DIR; other workers of a multi-worker run take
        # part in every (collective) save, into a private folder, and resume from the
        # chief's checkpoints.
        write_dir = self.model_dir if chief else tempfile.mkdtemp(prefix='jacktf-worker-')
        manager = checkpoint_manager(checkpoint, write_dir, trainer)
        resumed = self._initialize(model, checkpoint, frozen, chief)
        if ema is not None and int(step.numpy()) == 0:
            for v in variables:  # averages start from the (warm-started) weights
                ema.average(v).assign(v)
        best = BestCheckpoints(write_dir, trainer.keep_best, checkpoint)
        if not resumed:  # a restore point for the divergence guard (same on all workers)
            manager.save(checkpoint_number=0)
        eval_ds = self.dataset(self.eval_files, training=False) if (
            evaluate and self.eval_files) else None
        train_step = trainer.make_train_step(
            model, optimizer, variables, self.batch_size, strategy, ema=ema,
            seed=random.randrange(2 ** 31) if self.seed is None else self.seed)
        writer = tf.summary.create_file_writer(
            os.path.join(self.model_dir, 'train') if chief else tempfile.mkdtemp())
        eval_writer = tf.summary.create_file_writer(
            os.path.join(self.model_dir, 'eval') if chief else tempfile.mkdtemp())
        start = int(step.numpy())
        progress = ProgressLine(trainer.train_steps, self.batch_size, start)
        log.info('Training %s + %s head on %s: steps %d..%d, batch %d on %d replica(s), '
                 '%s, %d trainable / %d frozen variables, model_dir %s', model.backbone_name,
                 model.head_name, self.train_files, start, trainer.train_steps,
                 self.batch_size, strategy.num_replicas_in_sync, model.precision,
                 len(variables), len(frozen), self.model_dir)
        metrics, t_start, last_save, retries = {}, time.time(), time.time(), 0
        slowest = 0.0
        if not self.deterministic and not isinstance(
                strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # A step blocked on its input has applied nothing yet: another thread may
            # save the last completed step. (Not with the iterator in the checkpoint,
            # which the blocked step holds, nor with other workers to coordinate.)
            self._blocked_save = lambda: manager.save(checkpoint_number=int(step.numpy()))
        with self._stop_requests() as stop:
            while int(step.numpy()) < trainer.train_steps:
                t_step = time.time()
                # Before the first step a stop needs no checkpoint: stop at once.
                self._in_step = True
                with stop.interruptible(not self._stepped):
                    loss, total, acc = self._train_step(train_step, iterator)
                self._in_step = False
                if not np.isfinite(float(total)):
                    retries = self._diverged(model, variables, optimizer, manager,
                                             checkpoint, lr_scale, int(step.numpy()) + 1,
                                             retries)
                    progress = ProgressLine(trainer.train_steps, self.batch_size,
                                            int(step.numpy()))
                    continue
                current = int(step.assign_add(1).numpy())
                if self._stepped:  # the first step includes tracing and warm-up
                    slowest = max(slowest, time.time() - t_step)
                self._stepped = True
                stop.grace_seconds = max(LOOP_GRACE_SECONDS, STEP_GRACE_FACTOR * slowest)
                progress.add(float(loss), float(total), float(acc))
                if current == start + 1 and self.after_first_step and chief:
                    self.after_first_step(self.model_dir)
                if current % trainer.log_every_steps == 0 or current == trainer.train_steps:
                    lr = _current_lr(optimizer)
                    line = progress.emit(current, lr, int(self.counters['skipped'].numpy()))
                    self._train_accuracy = line['accuracy']
                    with writer.as_default(step=current):
                        for key in ('loss', 'total_loss', 'accuracy', 'images_per_second'):
                            tf.summary.scalar(key, line[key])
                        tf.summary.scalar('learning_rate', lr)
                timed = trainer.checkpoint_every_seconds and \
                    time.time() - last_save >= trainer.checkpoint_every_seconds
                if current % trainer.checkpoint_every_steps == 0 or timed:
                    manager.save(checkpoint_number=current)
                    last_save = time.time()
                if eval_ds is not None and trainer.eval_every_steps and \
                        current % trainer.eval_every_steps == 0 and \
                        current < trainer.train_steps and not stop.requested:
                    try:  # a stop during evaluation ends it; the step is saved below
                        with averaged_weights(ema, variables), stop.interruptible():
                            metrics = self._eval(model, eval_ds, eval_writer, current)
                        best.consider(current, metrics['accuracy'])
                    except Stopped:
                        pass
                if stop.requested:
                    stop.acknowledge()
                    if not (manager.latest_checkpoint or '').endswith(f'-{current}'):
                        manager.save(checkpoint_number=current)
                    log.info('%s received at step %d: checkpoint %s written; run the same '
                             'command to resume.', stop.requested, current,
                             manager.latest_checkpoint)
                    writer.flush()
                    return {'step': current, 'stopped_by': stop.requested,
                            'checkpoint': manager.latest_checkpoint}
            final = int(step.numpy())
            if manager.latest_checkpoint is None or \
                    not manager.latest_checkpoint.endswith(f'-{final}'):
                manager.save(checkpoint_number=final)
        # From here on a stop ends the evaluation or export at once (run() reports it).
        if eval_ds is not None:
            with averaged_weights(ema, variables):
                metrics = self._eval(model, eval_ds, eval_writer, final)
            best.consider(final, metrics['accuracy'])
        if self.export_at_end and chief:
            strategy_lib.configure_precision('float32')  # serving graphs are float32
            with averaged_weights(ema, variables):
                exported, _ = self._export_current(final, 'export')
            metrics = dict(metrics, export=exported)
            if best.entries:
                top = best.entries[0]
                checkpoint.restore(top['checkpoint']).expect_partial()
                with averaged_weights(ema, variables):
                    metrics['export_best'], _ = self._export_current(top['step'],
                                                                     'export_best')
                checkpoint.restore(manager.latest_checkpoint)  # back to the final state
        writer.flush()
        eval_writer.flush()
        skipped = int(self.counters['skipped'].numpy())
        summary = {'step': final, 'seconds': round(time.time() - t_start, 1),
                   'skipped_records': skipped,
                   'checkpoint': manager.latest_checkpoint, 'model_dir': self.model_dir,
                   **{f'eval_{k}': v for k, v in metrics.items()}}
        acc = f"eval accuracy {metrics['accuracy']:.4f} on {metrics['examples']} " \
              'examples' if 'accuracy' in metrics else 'no evaluation'
        log.info('Done at step %d: %s. %d corrupt or oversized records skipped. '
                 'Checkpoint: %s. TensorBoard: tensorboard --logdir %s', final, acc, skipped,
                 manager.latest_checkpoint, self.model_dir)
        return summary

    @contextlib.contextmanager
    def _stop_requests(self):
        """run()'s StopRequests (or one for a direct train() call), not interruptible."""
        if self._stop is not None:
            with self._stop.interruptible(False):
                yield self._stop
            return
        with StopRequests(grace_seconds=LOOP_GRACE_SECONDS,
                          on_force=self._forced_stop) as stop:
            self._stop = stop
            try:
                with stop.interruptible(False):
                    yield stop
            finally:
                self._stop = None

    def _train_step(self, train_step, iterator):
        """One step; data errors become DataError, an input that ended a DataError."""
        try:
            return _data_errors(train_step, iterator)
        except (tf.errors.OutOfRangeError, StopIteration):
            # The training input repeats: it only ends when a whole pass over the files
            # yielded no usable record.
            raise pipeline.no_usable_records(self.train_files, self.counters) from None
        except tf.errors.DataLossError as e:
            raise preflight.damaged_data_error(e, self.train_files) from None

    def _export_current(self, version, folder):
        names, labels_path = self.class_names()
        return export.export_saved_model(
            self.model, os.path.join(self.model_dir, folder), class_names=names,
            labels_path=labels_path, version=version, parity_encoded=export.parity_images(
                self.eval_files or self.train_files, self.decode_fn))

    def _diverged(self, model, variables, optimizer, manager, checkpoint, lr_scale, at_step,
                  retries):
        """Non-finite loss: restore the last checkpoint with a lower LR, or stop."""
        trainer = self.trainer
        if retries >= trainer.nan_retries:
            images, labels = next(iter(self.dataset(self.train_files, training=True)))
            culprit = trainer.first_nonfinite_gradient(model, variables, images, labels)
            raise TrainingDiverged(
                f'The loss became NaN/Inf at step {at_step} and stayed so after '
                f'{retries} retries with the learning rate lowered by '
                f'{trainer.nan_lr_factor} each time. First variable with a non-finite '
                f'gradient: {culprit or "none found on a fresh batch"}. Lower '
                'LEARNING_RATE, set Trainer.clip_gradient_norm, or check the data.')
        latest = manager.latest_checkpoint
        scale = float(lr_scale.numpy()) * trainer.nan_lr_factor
        checkpoint.restore(latest)
        lr_scale.assign(scale)
        compat.refresh_learning_rate(optimizer)
        log.warning('Loss became NaN/Inf at step %d: restored %s and retrying with the '
                    'learning rate scaled by %.3g (retry %d of %d).', at_step, latest, scale,
                    retries + 1, trainer.nan_retries)
        return retries + 1

    def _eval(self, model, dataset, writer, step):
        try:
            metrics = self.trainer.evaluate(model, dataset, self.strategy)
        except tf.errors.InvalidArgumentError as e:
            raise pipeline.data_error(e) or e from None
        except tf.errors.DataLossError as e:
            raise preflight.damaged_data_error(e, self.eval_files, 'EVAL_FILES') from None
        if not metrics['examples']:
            raise pipeline.no_usable_records(self.eval_files, self.counters, 'EVAL_FILES')
        log.info('eval at step %d: accuracy %.4f  loss %.4f  (%d examples)', step,
                 metrics['accuracy'], metrics['loss'], metrics['examples'])
        gap = getattr(self, '_train_accuracy', 0.0) - metrics['accuracy']
        if model.batch_norm_trains and gap > BN_GAP_WARNING:
            log.warning(
                'eval accuracy %.3f trails train accuracy %.3f by %.2f while batch norm '
                'trains: the moving statistics from small batches of your data may not fit '
                'the network. Keep the checkpoint\'s statistics with Model.train_batch_norm '
                '= False (the default for warm-started runs), or train fewer: '
                "Model.train_batch_norm = ['<top scope>'].", metrics['accuracy'],
                self._train_accuracy, gap)
        with writer.as_default(step=step):
            tf.summary.scalar('accuracy', metrics['accuracy'])
            tf.summary.scalar('loss', metrics['loss'])
        return metrics
