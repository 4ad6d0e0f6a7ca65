"""RunInputs: what a training run reads, handed to the Controller by the app layer.

The Controller, its callbacks and the modules they call (resume, feature cache, batch
preview, TensorBoard text) get everything about the run's input and warm start from
this one object, built by jacktf.app.experiment; none of them reaches back into the
object that built the run (orbit's rule).
"""

import dataclasses
from typing import Any, Callable, Optional, Sequence


@dataclasses.dataclass
class RunInputs:
    """The input files and settings of one training run.

    Attributes:
      train_files / eval_files: TFRecord globs, image folders or demo://split.
      batch_size / eval_batch_size: global batch sizes.
      dataset: ``fn(files, *, training, input_context=None, batch_size=None,
        with_info=False, tta=None) -> tf.data.Dataset`` (preprocessed, augmented when
        training).
      counters: the pipeline's skip counters (pipeline.make_counters).
      decode_fn / decoder_name: the record decoder and its registered name.
      skip_corrupt / max_pixels: the pipeline's bad-record settings.
      seed / deterministic: data order and initialization; deterministic runs keep
        the input iterator in every checkpoint.
      checkpoint_path / checkpoint_exclude_scopes / scope_map: the warm start.
      augmentations: the training augmentations (jacktf.data.augment).
      preview_images: images in the batch preview (0: none).
      sampling / plan: class-balanced sampling and the run's DataPlan (counts).
      input_note: the start line's words on how the input is read (decoded cache).
      class_names: ``fn() -> [names]`` of the model's classes (pictures, reports).
      write_labels: ``fn()`` writing MODEL_DIR/labels.txt (on the chief).
      export: ``fn(version, folder) -> (path, parity)`` exporting the current weights
        to MODEL_DIR/folder/version, or None.
      hyperparameters: {name: value} of what distinguishes this run (TensorBoard).
    """
    train_files: Any
    eval_files: Any
    batch_size: int
    eval_batch_size: int
    dataset: Callable
    counters: dict
    decode_fn: Callable
    decoder_name: str
    skip_corrupt: bool = True
    max_pixels: int = 0
    seed: Optional[int] = None
    deterministic: bool = False
    checkpoint_path: Optional[str] = None
    checkpoint_exclude_scopes: Sequence[str] = ()
    scope_map: Optional[dict] = None
    augmentations: Sequence[Any] = ()
    preview_images: int = 16
    sampling: Optional[str] = None
    plan: Any = None
    input_note: str = ''
    class_names: Callable = lambda: None
    write_labels: Callable = lambda: None
    export: Optional[Callable] = None
    hyperparameters: dict = dataclasses.field(default_factory=dict)
