"""The pictures of each evaluation: confusion matrix and top-losses gallery."""

import logging
import os

from jacktf.train.callbacks.base import Callback

log = logging.getLogger('jacktf')


class EvalPictures(Callback):
    """After every evaluation during training: the confusion matrix and the top-losses
    gallery as images in TensorBoard (MODEL_DIR/eval, tags eval/confusion_matrix and
    eval/top_losses, one per evaluated step), and the latest of them with the
    top-losses CSV in MODEL_DIR/eval/ (confusion_matrix.png, top_losses.png,
    top_losses.csv). The chief writes; other workers draw nothing."""

    order = 34  # after the evaluation

    def on_eval_end(self, ctl, step, metrics):
        collector = getattr(ctl, 'eval_collector', None)
        if collector is None or not ctl.chief or not metrics.get('examples'):
            return
        from jacktf.evaluation import report, summaries
        names, _ = ctl.experiment.class_names()
        examples = ctl.eval_examples
        images = report.pictures(matrix=collector.confusion, class_names=names,
                                 examples=examples, misclassified=collector.misclassified,
                                 step=step)
        summaries.write_images(ctl.eval_writer, images, step)
        paths = report.write_pictures(images, os.path.join(ctl.model_dir, 'eval'),
                                      examples, names)
        log.info('eval pictures at step %d: %s', step, ', '.join(sorted(paths.values())))
