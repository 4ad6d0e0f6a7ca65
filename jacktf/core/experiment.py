"""Experiment: one run of train / eval / train_and_eval in a model directory.

Wiring: the input pipelines, the Model and Trainer, and the callbacks a training run
gets; jacktf.train.controller runs the loop. Everything a run needs to resume or be
audited is in the model directory.
"""

import logging
import os

import tensorflow as tf

from jacktf.core.checkpoint_paths import resolve_checkpoint
from jacktf.core.errors import ConfigError, RestoreError
from jacktf.data import augment, finetune_preprocessing, pipeline, preflight, sampling as sampling_lib
from jacktf.serve import export
from jacktf.pretrained import builtin
from jacktf.train import data_plan, lifecycle, recovery, strategy as strategy_lib
from jacktf.train.callbacks import builtin_callbacks
from jacktf.train.controller import Controller
from jacktf.train.lock import RunLock

log = logging.getLogger('jacktf')
MODES = ('train_and_eval', 'train', 'eval')


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
      seed: makes data order, augmentation, head initialization and dropout
        repeatable (default 0: the same command twice gives the same numbers); None
        draws a fresh seed each run (see jacktf.train.seeding).
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
      augmentations: training augmentations (``[@randaugment(), @mixup()]`` in gin, see
        jacktf.data.augment); evaluation input is never augmented.
      preview_images: a fresh run writes the first training batch (after preprocessing
        and augmentation) as MODEL_DIR/batch_preview.png and a TensorBoard image, this
        many images of it; 0 turns the preview off.
      sampling: None, or 'balanced': resample the training records so that every
        class is equally frequent (see jacktf.data.sampling); the class counts come
        from dataset.json or one counting pass. An alternative to
        Trainer.class_weight = 'balanced' (use one, not both).
    """

    def __init__(self, *, model_dir, model, trainer, train_files, eval_files=None,
                 batch_size=32, decoder='tfexample_classification', checkpoint_path=None,
                 checkpoint_exclude_scopes=(), scope_map=None, shuffle_buffer=2048,
                 eval_batch_size=None, seed=0, skip_corrupt=True,
                 max_pixels=pipeline.DEFAULT_MAX_PIXELS, export_at_end=True,
                 strategy='default', deterministic=False, after_first_step=None,
                 preview_images=16, augmentations=(), sampling=None):
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
        if checkpoint_path and not model.preprocessing_given:  # fine-tuning augmentation
            model.set_preprocessing(finetune_preprocessing.finetune_name(model.preprocessing))
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
        self.preview_images = int(preview_images)
        self.augmentations = augment.check(augmentations)
        sampling_lib.check_sampling(sampling)
        self.sampling = sampling
        self.plan = None  # the run's DataPlan, made when training starts
        self.state = lifecycle.RunState(model_dir)

    # -- input ---------------------------------------------------------------------
    def dataset(self, files, *, training, input_context=None, batch_size=None,
                with_info=False, tta=None):
        """Batches of ``files`` (see pipeline.read_dataset), augmented when training; with
        ``tta`` modes each image is the stack of its test-time augmentation views
        [V, S, S, 3]."""
        model, augmentations = self.model, self.augmentations if training else ()
        preprocess = augment.preprocess_fn(model, augmentations)
        if tta:
            from jacktf.evaluation import tta as tta_lib
            one_view = preprocess

            def preprocess(image, is_training, seed):
                return tf.stack([one_view(v, is_training, seed)
                                 for v in tta_lib.views(image, tta)])
        data = pipeline.read_dataset(
            files, decode_fn=self.decode_fn, preprocess_fn=preprocess,
            batch_size=batch_size or (self.batch_size if training else self.eval_batch_size),
            input_context=input_context,
            is_training=training, num_classes=model.num_classes,
            shuffle_buffer=self.shuffle_buffer, seed=self.seed,
            skip_corrupt=self.skip_corrupt, max_pixels=self.max_pixels,
            counters=self.counters, with_info=with_info,
            balance_counts=self.plan.train.per_class if (
                training and self.sampling and self.plan) else None)
        seed = None if self.seed is None else self.seed + (
            input_context.input_pipeline_id if input_context else 0)
        return augment.batch_stage(data, augmentations, model.num_classes, seed)

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

    def copy_labels(self):
        """Writes MODEL_DIR/labels.txt (when TRAIN_FILES name classes); returns the names."""
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
    def run(self, mode='train_and_eval', force_unlock=False):
        """Runs ``mode`` after checking its input, before anything is written.

        SIGTERM/SIGINT stop the run in every phase; a run that fails or is stopped
        before its first training step removes what it created (jacktf.train.lifecycle).
        Training holds MODEL_DIR's writer lock (jacktf.train.lock; on the chief only);
        ``force_unlock`` takes it over from a live or remote holder.

        Returns:
          The summary of train() or the report of evaluate_latest(); with
          ``stopped_by`` when a signal stopped the run.
        """
        if mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {mode!r}.')
        writer = mode != 'eval' and strategy_lib.is_chief()
        return lifecycle.guarded(
            self.state, lambda: self.check_input(mode),
            lambda: self.evaluate_latest() if mode == 'eval' else
            self.train(evaluate=mode == 'train_and_eval'),
            lock=RunLock(self.model_dir, force_unlock) if writer else None)

    def train(self, evaluate=True):
        """Trains with the built-in callbacks, then Trainer.callbacks (see Controller)."""
        self.plan = data_plan.prepare(self)
        callbacks = builtin_callbacks(self.trainer, self.after_first_step,
                                      self.export_at_end)
        with lifecycle.stop_requests(self.state) as stop, \
                recovery.disk_errors(self.model_dir):
            return Controller(self, callbacks, state=self.state, stop=stop,
                              evaluate=evaluate).fit()

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
        path, _ = recovery.recover(ckpt_dir, repair=False)  # the newest that reads whole
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

    def evaluate_latest(self, checkpoint=None, saved_model=None, tta=None,
                        top_losses=None):
        """The full evaluation report of a checkpoint or SavedModel on EVAL_FILES (see
        jacktf.evaluation.evaluate.evaluate for the arguments and the files written)."""
        from jacktf.evaluation.evaluate import evaluate
        return evaluate(self, checkpoint, saved_model, tta, top_losses)

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

    def export_current(self, version, folder):
        """Exports the model's current weights to MODEL_DIR/folder/version."""
        names, labels_path = self.class_names()
        return export.export_saved_model(
            self.model, os.path.join(self.model_dir, folder), class_names=names,
            labels_path=labels_path, version=version, parity_encoded=export.parity_images(
                self.eval_files or self.train_files, self.decode_fn))
