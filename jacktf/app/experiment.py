"""Experiment: one run of train / eval / train_and_eval in a model directory.

Wiring: the input pipelines, the Model and Trainer, and the callbacks a training run
gets; jacktf.train.controller runs the loop. Everything a run needs to resume or be
audited is in the model directory.
"""

import logging

import tensorflow as tf

from jacktf.app import multilabel_wiring
from jacktf.app.run_checkpoints import RunCheckpoints
from jacktf.app.run_exports import RunExports
from jacktf.app.run_files import RunFiles
from jacktf.core.errors import ConfigError
from jacktf.data import augment, counts, fast_input, finetune_preprocessing, label_match, \
    pipeline, sampling as sampling_lib
from jacktf.evaluation import unknown as unknown_lib
from jacktf.train import data_plan, lifecycle, recovery, strategy as strategy_lib
from jacktf.train.callbacks import builtin_callbacks
from jacktf.train.callbacks.tb_text import hyperparameters
from jacktf.train.controller import Controller
from jacktf.train.inputs import RunInputs
from jacktf.train.lock import RunLock

log = logging.getLogger('jacktf')
MODES = ('train_and_eval', 'train', 'eval', 'continuous_eval', 'export')


class Experiment(RunFiles, RunExports, RunCheckpoints):
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
      callback_factories: {gin name: factory} of the configurable built-in callbacks
        (jacktf.train.callbacks.CONFIGURABLE; runtime passes their gin versions).
      unknown_keep: the share of EVAL_FILES images the "unknown" threshold keeps
        (jacktf.evaluation.unknown), calibrated when training ends, before the export;
        None: no calibration (the export answers without "unknown").
      unknown_score: the out-of-distribution score: 'energy' (default), 'max_softmax'
        or 'max_logit'.
      cache_budget_mb: a training set whose decoded images fit this many megabytes
        (shorter side brought down to 1.25-2x the input size) is decoded once and kept
        in memory; the augmentation still runs at every epoch. 0 turns it off.
    """

    def __init__(self, *, model_dir, model, trainer, train_files, eval_files=None,
                 batch_size=32, decoder='tfexample_classification', checkpoint_path=None,
                 checkpoint_exclude_scopes=(), scope_map=None, shuffle_buffer=2048,
                 eval_batch_size=None, seed=0, skip_corrupt=True,
                 max_pixels=pipeline.DEFAULT_MAX_PIXELS, export_at_end=True,
                 strategy='default', deterministic=False, after_first_step=None,
                 preview_images=16, augmentations=(), sampling=None,
                 callback_factories=None, unknown_keep=unknown_lib.DEFAULT_KEEP,
                 unknown_score=unknown_lib.DEFAULT_SCORE,
                 cache_budget_mb=fast_input.DEFAULT_BUDGET_MB):
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
        self.decoder_name, self.decode_fn = _decoder(decoder, model, train_files)
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
        self.callback_factories = callback_factories
        if unknown_keep is not None:
            unknown_lib.check_options(unknown_keep, unknown_score)
        self.unknown_keep, self.unknown_score = unknown_keep, unknown_score
        self.plan = None  # the run's DataPlan, made when training starts
        self.cache_budget_mb = max(0, int(cache_budget_mb))
        self.cache_side, self.input_note = None, ''  # the decoded cache (plan_cache)
        self.eval_label_map = None  # EVAL_FILES' labels -> the model's (label_match)
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
            files, decode_fn=label_match.remapped(self.decode_fn, self.eval_label_map) if (
                self.eval_label_map and files == self.eval_files) else self.decode_fn,
            preprocess_fn=preprocess,
            batch_size=batch_size or (self.batch_size if training else self.eval_batch_size),
            input_context=input_context,
            is_training=training, num_classes=model.num_classes,
            shuffle_buffer=self.shuffle_buffer, seed=self.seed,
            skip_corrupt=self.skip_corrupt, max_pixels=self.max_pixels,
            counters=self.counters, with_info=with_info,
            cache_side=self.cache_side if training and not tta else None,
            balance_counts=self.plan.train.per_class if (
                training and self.sampling and self.plan) else None)
        seed = None if self.seed is None else self.seed + (
            input_context.input_pipeline_id if input_context else 0)
        return augment.batch_stage(data, augmentations, model.num_classes, seed)

    # -- modes: the one dispatch of train, eval, continuous_eval and export ----------
    def run(self, mode='train_and_eval', force_unlock=False, eval_timeout=3600.0):
        """Runs ``mode`` after checking its input, before anything is written.

        SIGTERM/SIGINT stop the run in every phase; a run that fails or is stopped
        before its first training step removes what it created (jacktf.train.lifecycle).
        Training holds MODEL_DIR's writer lock (jacktf.train.lock; on the chief only);
        ``force_unlock`` takes it over from a live or remote holder. 'continuous_eval'
        follows a training run's checkpoints (jacktf.app.continuous_eval) for up to
        ``eval_timeout`` seconds without a new one; 'export' exports the latest
        checkpoint.

        Returns:
          The summary of train(), the report of evaluate_latest(), the sidecar's
          summary or the export's; with ``stopped_by`` when a signal stopped the run.
        """
        if mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {mode!r}.')
        if mode == 'continuous_eval':
            from jacktf.app import continuous_eval
            return continuous_eval.run(self, timeout=eval_timeout)
        if mode == 'export':
            return self.export()
        writer = mode != 'eval' and strategy_lib.is_chief()
        return lifecycle.guarded(
            self.state, lambda: self.check_input(mode),
            lambda: self.evaluate_latest() if mode == 'eval' else
            self.train(evaluate=mode == 'train_and_eval'),
            lock=RunLock(self.model_dir, force_unlock) if writer else None)

    def train(self, evaluate=True):
        """Trains with the built-in callbacks, then Trainer.callbacks (see Controller)."""
        callbacks = self.callbacks()
        self.plan = data_plan.prepare(self, self.model, self.trainer, callbacks)
        self.plan_cache()
        with lifecycle.stop_requests(self.state) as stop, \
                recovery.disk_errors(self.model_dir):
            return Controller(
                model=self.model, trainer=self.trainer, inputs=self.run_inputs(),
                callbacks=callbacks, model_dir=self.model_dir,
                strategy=self.strategy, state=self.state, stop=stop,
                evaluate=evaluate).fit()

    def plan_cache(self):
        """Decides whether the training set is kept decoded in memory (see
        jacktf.data.fast_input) and the start line's words for it."""
        if self.deterministic:  # its iterator is checkpointed: the cache would be too
            self.cache_side, self.input_note = None, 'input: decoded every epoch ' \
                '(Experiment.deterministic checkpoints the input iterator)'
            return
        examples = self.plan.train.total if self.plan and self.plan.train else None
        if examples is None and getattr(self.decode_fn, 'source', None) is not None:
            examples = counts.example_counts(self.train_files, self.decode_fn,
                                             self.model.num_classes).total
        self.cache_side, mb = fast_input.cache_plan(examples, self.model.image_size,
                                                    self.cache_budget_mb)
        self.input_note = fast_input.describe_cache(
            examples, self.model.image_size, self.cache_side, mb, self.cache_budget_mb)

    def run_inputs(self):
        """The RunInputs the Controller and its callbacks read (jacktf.train.inputs)."""
        names = ('train_files', 'eval_files', 'batch_size', 'eval_batch_size', 'dataset',
                 'counters', 'decode_fn', 'decoder_name', 'skip_corrupt', 'max_pixels',
                 'seed', 'deterministic', 'checkpoint_path', 'checkpoint_exclude_scopes',
                 'scope_map', 'augmentations', 'preview_images', 'sampling', 'plan',
                 'input_note')
        return RunInputs(
            **{name: getattr(self, name) for name in names},
            class_names=lambda: self.class_names()[0], write_labels=self.copy_labels,
            export=self.export_current if self.export_at_end else None,
            hyperparameters=hyperparameters(self))

    def callbacks(self):
        """The callbacks of a training run: the built-ins and Trainer.callbacks."""
        return builtin_callbacks(self.trainer, self.after_first_step, self.export_at_end,
                                 self.callback_factories)


def _decoder(decoder, model, train_files):
    """(decoder name, decode function) of Experiment.decoder (a registered name or the
    gin reference of one), matched to a multi-label model or multi-label records."""
    if isinstance(decoder, str):
        name, decode_fn = decoder, model.registry.get('decoder', decoder).factory()
    else:
        entry = getattr(decoder, 'jacktf_entry', None)
        if entry is None or entry.kind != 'decoder':
            raise ConfigError(f'Experiment.decoder must be a registered decoder name or '
                              f'@decoder_name in gin, got {decoder!r}. Run `jacktf '
                              'plugins --kind decoder`.')
        name, decode_fn = entry.name, decoder()
    if not model.native:  # multi-label records, or a multi-label head
        name, decode_fn = multilabel_wiring.match_decoder(model, name, decode_fn,
                                                          train_files)
    return name, decode_fn
