"""Model: a slim backbone plus a head, run in TF2 with slim's variable names.

The network itself is a ``SlimNetwork`` layer (jacktf.core.network); Model resolves the
registered backbone and head, checks the options, and owns preprocessing, loss and
batch-norm policy.
"""

import tensorflow as tf

from jacktf.core import multilabel_loss, plugins, scopes
from jacktf.core.batchnorm import check_batch_norm_params
from jacktf.core.errors import ConfigError
from jacktf.core.network import SlimNetwork, check_arg_scope_kwargs
from jacktf.core.precision import PRECISIONS  # Model.precision's values  # noqa: F401


def _resolve(registry, kind, value):
    """(callable, entry) for a registered name or a gin-configured factory."""
    if isinstance(value, str):
        entry = registry.get(kind, value)
        return entry.factory, entry
    entry = getattr(value, 'jacktf_entry', None)
    if entry is None or entry.kind != kind:
        raise ConfigError(f'Expected a registered {kind} name or @{kind}_name in gin, '
                          f'got {value!r}. Run `jacktf plugins --kind {kind}`.')
    return value, entry


def _image_size(value, default, backbone):
    """IMAGE_SIZE as an int: None is the backbone's default; 0, negatives, fractions and
    sizes below 16 are errors."""
    if value is None:
        return int(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            int(value) != value:
        raise ConfigError(f'IMAGE_SIZE must be a whole number of pixels or None (the '
                          f'{backbone} default, {default}), got {value!r}.')
    if value < 16:
        raise ConfigError(f'IMAGE_SIZE must be at least 16 pixels, got {value!r}. Set it '
                          f'to the input size you train at, or None for the {backbone} '
                          f'default ({default}).')
    return int(value)


class Model:
    """A classifier: preprocessing, a slim backbone, a head and the loss.

    Args:
      backbone: a registered backbone name, or a gin reference (``@resnet_v1_50``).
      num_classes: number of classes; with head 'native' defaults to the official count.
      head: a registered head name or gin reference; 'native' uses the net's own logits.
      image_size: input size; None uses the backbone card's default.
      preprocessing: a preprocessor name; None uses the card's default, and for a run
        that warm-starts from a checkpoint its family's fine-tuning one (e.g.
        ``inception_finetune``: random resized crop of 60-100% of the image, no colour
        change; see jacktf.data.finetune_preprocessing).
      preprocessing_kwargs: extra keyword arguments for the preprocessor, e.g.
        {'area_range': (0.6, 1.0)} for the fine-tuning ones' random crop.
      flip: random horizontal flips in training, for preprocessors that take ``flip``
        (the fine-tuning ones). Off by default: on digit scans a flip cost 2-4 points
        (0.94-0.96 with it, 0.976-0.982 without, batch 8-32, bench/quality.py) and on
        the photo and texture sets it gained nothing; True for photos whose left and
        right mean the same.
      train_augmentation: False gives training images the evaluation preprocessing
        (no random crop, flip or colour change), so each example is the same at every
        step; with a frozen backbone the feature cache then engages by itself.
      precision: 'auto' (bfloat16 where the device computes it natively and faster,
        else float32; resolved when training starts, see jacktf.core.precision),
        'float32', 'bfloat16' or 'float16'.
      registry: the Registry to resolve names in; None uses the process default.
      backbone_kwargs: extra keyword arguments for the network function.
      head_kwargs: extra keyword arguments for the head.
      arg_scope_kwargs: options of the backbone's arg_scope factory, e.g.
        {'weight_decay': 4e-5}; only the keys that factory takes (each backbone's
        differ: resnet's take batch_norm_decay, mobilenet v2/v3's bn_decay).
      batch_norm_params: batch-norm settings for every slim batch norm of the network
        and head, whatever the backbone's arg_scope takes: {'decay': 0.9,
        'epsilon': 1e-3} (see jacktf.core.batchnorm); they win over the arg_scope's.
      train_batch_norm: which batch norms use batch statistics and update their
        moving statistics when training. None (default): none when the run
        warm-starts from a checkpoint (they keep the checkpoint's statistics, as the
        Keras fine-tuning guide recommends for small data: a small dataset's batch
        statistics differ from ImageNet's and the eval-mode network no longer matches
        the trained one), all when training from scratch. True: all (except frozen
        scopes). False: none. A list of scope rules: only those, e.g.
        ['MobilenetV1/Conv2d_13_pointwise'].
      frozen_bn_scopes: batch norms under these scopes run in inference mode.
      all_bn_frozen: every slim batch norm of the network runs in inference mode.
      multi_label: several labels per image: sigmoid probabilities and binary
        cross-entropy over multi-hot labels [N, K] (see jacktf.core.multilabel_loss).
        None (default): the head says (``@multilabel_logits`` is multi-label).
      pos_weight: multi-label only: the weight of each label's positive term in the
        binary cross-entropy (one number, or K numbers; > 1 counts a rare label's
        positives more), None for 1.
    """

    def __init__(self, *, backbone, num_classes=None, head='logits', image_size=None,
                 preprocessing=None, precision='auto', registry=None,
                 backbone_kwargs=None, head_kwargs=None, arg_scope_kwargs=None,
                 batch_norm_params=None, train_batch_norm=None, frozen_bn_scopes=(),
                 all_bn_frozen=False, train_augmentation=True, flip=False,
                 preprocessing_kwargs=None, multi_label=None, pos_weight=None):
        self.registry = registry or plugins.default_registry()
        net_fn, entry = _resolve(self.registry, 'backbone', backbone)
        head_fn, head_entry = _resolve(self.registry, 'head', head)
        self.card = entry.card
        self.backbone_name = entry.name
        self.head_name = head_entry.name
        native = bool(getattr(head_entry.factory, 'uses_backbone_logits', False))
        self.native = native  # the net's own classifier (official class count by default)
        if num_classes is None:
            if not native:
                raise ConfigError('num_classes is required for the '
                                  f'{head_entry.name!r} head (set NUM_CLASSES).')
            num_classes = self.card.num_classes_official
        if int(num_classes) < 2:
            raise ConfigError(f'num_classes must be at least 2, got {num_classes}.')
        self.num_classes = int(num_classes)
        self.multi_label = False
        self.set_multi_label(bool(getattr(head_entry.factory, 'multi_label', False)
                                  if multi_label is None else multi_label))
        self.pos_weight = multilabel_loss.check_pos_weight(pos_weight, self.num_classes)
        self.image_size = _image_size(image_size, self.card.default_image_size,
                                      self.backbone_name)
        if precision not in PRECISIONS:
            raise ConfigError(f'PRECISION must be one of {PRECISIONS}, got {precision!r}.')
        self.precision = precision  # applied by jacktf.train.strategy.configure_precision
        self.preprocessing_given = preprocessing is not None
        self.train_augmentation = bool(train_augmentation)
        self.flip = bool(flip)
        self.preprocessing_kwargs = dict(preprocessing_kwargs or {})
        self.set_preprocessing(preprocessing or self.card.preprocessing)
        self.frozen_bn_scopes = scopes.parse_scopes(frozen_bn_scopes)
        self.network = SlimNetwork(
            net_fn=net_fn, head_fn=head_fn, card=self.card, num_classes=self.num_classes,
            native=native, backbone_kwargs=backbone_kwargs, head_kwargs=head_kwargs,
            arg_scope_kwargs=check_arg_scope_kwargs(entry.name, self.card.arg_scope,
                                                     arg_scope_kwargs),
            batch_norm_params=check_batch_norm_params(batch_norm_params))
        self.all_bn_frozen = bool(all_bn_frozen)
        if train_batch_norm not in (None, True, False):
            train_batch_norm = scopes.parse_scopes(train_batch_norm)
        self.train_batch_norm = train_batch_norm
        self.batch_norm_trains = False  # set by set_frozen_batch_norm
        self.set_frozen_batch_norm(None)
        self.built = False

    def set_multi_label(self, multi_label=True):
        """Several labels per image: sigmoid, BCE and exact-match ``loss``,
        ``postprocess`` and ``accuracy`` shadow the single-label static methods."""
        self.multi_label = bool(multi_label)
        for name in ('loss', 'postprocess', 'accuracy'):
            self.__dict__.pop(name, None)
        if self.multi_label:
            self.loss = self._binary_cross_entropy
            self.postprocess = multilabel_loss.postprocess
            self.accuracy = multilabel_loss.exact_match

    def set_preprocessing(self, name):
        """Uses the registered preprocessing ``name`` (for calls made afterwards): its
        card (jacktf.core.preprocessing_card) gives the train and eval input, its
        inverse for pictures and the client steps of the export."""
        self.preprocessing = name
        self.preprocessing_card = self.registry.get('preprocessor', name).card

    def set_frozen_batch_norm(self, is_frozen_variable, warm_started=False):
        """Batch norm runs in inference mode where its moving_mean is frozen.

        Combines ``is_frozen_variable`` (a predicate over variable names, e.g. the
        trainer's freeze rules) with ``train_batch_norm`` (resolved for a run that
        ``warm_started`` from a checkpoint or not), ``frozen_bn_scopes`` and
        ``all_bn_frozen``. Takes effect for calls traced afterwards; sets
        ``batch_norm_trains`` (whether any batch norm may use batch statistics).
        """
        rules, policy = self.frozen_bn_scopes, self.train_batch_norm
        if policy is None:
            policy = not warm_started
        everything = self.all_bn_frozen or policy is False

        def is_frozen(name):
            if everything or scopes.matches_any(name, rules):
                return True
            if policy is not True and not scopes.matches_any(name, policy):
                return True
            return bool(is_frozen_variable and is_frozen_variable(name))

        active = everything or rules or policy is not True or is_frozen_variable is not None
        self.network.bn_frozen = is_frozen if active else None
        self.batch_norm_trains = not everything

    def build(self):
        """Creates the variables by running the network once on a zero image."""
        if not self.built:
            size = self.image_size
            self.network(tf.zeros([1, size, size, 3]), training=False)
            self.built = True
        return self

    @property
    def variables(self):
        return self.network.variables

    def variable_names(self):
        return [scopes.var_name(v.name) for v in self.network.variables]

    def preprocess(self, image, training=False, seed=None, cropped=False):
        """uint8 image [H, W, 3] -> float32 [S, S, 3] as the backbone expects.

        ``seed`` (int [2]) drives the training augmentation; None draws a random seed.
        ``cropped``: the image is already the training crop (see train_crop_window).
        """
        extra = {'cropped': True} if cropped else {}
        return self.preprocessing_card.preprocess(
            image, image_size=self.image_size,
            is_training=training and self.train_augmentation, seed=seed,
            options=dict(self.preprocessing_kwargs, flip=self.flip), **extra)

    def train_crop_window(self):
        """``fn(shape, seed) -> (begin, size)``: the crop the training preprocessing
        starts with (the input pipeline decodes a JPEG in that window only), or None
        when it does not start with a crop."""
        card = self.preprocessing_card
        if not self.train_augmentation or getattr(
                getattr(card, 'train', None), 'crop_window', None) is None:
            return None
        options = dict(self.preprocessing_kwargs, flip=self.flip)
        return lambda shape, seed: card.train_window(shape, seed=seed, options=options)

    def to_pixels(self, images):
        """Preprocessed images [..., S, S, 3] -> uint8 pixels, for looking at them.

        The card's inverse of its normalization (exact for every card; a preprocessor
        registered as a bare function without ``to_pixels`` stretches each image to
        [0, 255] instead).

        Returns:
          (uint8 tensor, True when the exact inverse was used).
        """
        card = self.preprocessing_card
        return card.to_pixels(images), bool(card.exact_inverse)

    def predict(self, images, training=False, seed=None):
        """Preprocessed images [N, S, S, 3] -> dict(logits, features, end_points).

        ``seed`` (int [2]) makes dropout masks a function of it (the trainer passes the
        run seed and the step, so a resumed run draws the masks it would have drawn).
        """
        return self.network(images, training=training, seed=seed)

    @staticmethod
    def postprocess(logits):
        """Logits -> dict(probabilities, classes)."""
        logits = tf.cast(logits, tf.float32)
        return {'probabilities': tf.nn.softmax(logits),
                'classes': tf.argmax(logits, axis=-1, output_type=tf.int32)}

    @staticmethod
    def loss(labels, logits, label_smoothing=0.0):
        """Per-example cross-entropy [N] (the caller averages or scales it).

        ``labels``: class indexes [N], or soft labels [N, K] (from mixup or cutmix).
        """
        logits = tf.cast(logits, tf.float32)
        if labels.dtype.is_floating:  # soft labels
            return tf.keras.losses.categorical_crossentropy(
                tf.cast(labels, tf.float32), logits, from_logits=True,
                label_smoothing=label_smoothing)
        if label_smoothing:
            onehot = tf.one_hot(labels, tf.shape(logits)[-1])
            return tf.keras.losses.categorical_crossentropy(
                onehot, logits, from_logits=True, label_smoothing=label_smoothing)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    def _binary_cross_entropy(self, labels, logits, label_smoothing=0.0):
        """Multi-label ``loss``: per-example BCE summed over labels, self.pos_weight."""
        weight = None if self.pos_weight == multilabel_loss.BALANCED else self.pos_weight
        return multilabel_loss.binary_cross_entropy(labels, logits, label_smoothing,
                                                    pos_weight=weight)

    def regularization_loss(self):
        """Sum of the slim regularizers' losses (weight decay), 0 when there are none."""
        losses = self.network.losses
        return tf.add_n([tf.cast(l, tf.float32) for l in losses]) if losses else 0.0

    @staticmethod
    def accuracy(labels, logits):
        """Fraction of examples whose arg-max logit is the label."""
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                        tf.cast(labels, tf.int32))
        return tf.reduce_mean(tf.cast(hits, tf.float32))
