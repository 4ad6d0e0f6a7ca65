"""The report of each evaluation during training: metrics.json, confusion matrix and
top-losses gallery (the same files `jacktf eval` writes)."""

import logging
import os

from jacktf.evaluation.evaluate import write_outputs
from jacktf.train.callbacks.base import Callback

log = logging.getLogger('jacktf')


class EvalPictures(Callback):
    """After every evaluation during training, the report of the one evaluation function
    (jacktf.evaluation.evaluate.write_outputs), as `jacktf eval` and the sidecar write
    it: MODEL_DIR/eval/metrics.json, confusion_matrix.png, top_losses.png and
    top_losses.csv (the latest evaluation's), and the confusion matrix and top-losses
    gallery as TensorBoard images in MODEL_DIR/eval (tags eval/confusion_matrix and
    eval/top_losses, one per evaluated step). The chief writes; other workers draw
    nothing.

    Args:
      pictures: also draw the confusion matrix and the top-losses gallery (False:
        metrics.json only).
    """

    order = 34  # after the evaluation's scalars (TensorBoard)

    def __init__(self, pictures=True):
        self.pictures = bool(pictures)

    def on_eval_end(self, ctl, step, metrics):
        result = ctl.evaluation
        if result is None or not ctl.chief or not metrics.get('examples'):
            return
        directory = os.path.join(ctl.model_dir, 'eval')
        write_outputs(result, directory, step=step, writer=ctl.eval_writer,
                      pictures=self.pictures, source=f'training at step {step}',
                      eval_files=ctl.inputs.eval_files)
        log.info('eval report at step %d: %s', step, directory)
