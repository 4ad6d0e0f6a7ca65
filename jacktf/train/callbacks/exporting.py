"""Export at the end of training: the final weights, and the best checkpoint's."""

import logging

from jacktf.train import strategy as strategy_lib
from jacktf.train.callbacks.base import Callback
from jacktf.train.checkpointing import improved
from jacktf.train.step import averaged_weights

log = logging.getLogger('jacktf')


class ExportAtEnd(Callback):
    """Exports MODEL_DIR/export/<final step> (and MODEL_DIR/export_best/<step> when
    best-k kept checkpoints), each checked for parity; chief only."""

    order = 40  # reads ctl.best at the end of training

    def on_train_end(self, ctl, logs):
        if not ctl.chief or ctl.inputs.export is None:
            return
        strategy_lib.configure_precision('float32')  # serving graphs are float32
        with averaged_weights(ctl.ema, ctl.all_variables):
            ctl.metrics['export'], _ = ctl.inputs.export(logs['step'], 'export')
        best = getattr(ctl, 'best', None)
        if best is not None and best.entries:
            top = best.entries[0]
            ctl.checkpoint.restore(top['checkpoint']).expect_partial()
            with averaged_weights(ctl.ema, ctl.all_variables):
                ctl.metrics['export_best'], _ = ctl.inputs.export(top['step'],
                                                                  'export_best')
            ctl.checkpoint.restore(ctl.manager.latest_checkpoint)  # back to the final state
            report_best(ctl, top)


def report_best(ctl, top):
    """Records the best checkpoint in the run's metrics; says so when the final eval is
    below it (MODEL_DIR/export_best then holds the better model)."""
    metric = ctl.best.metric
    final, best = ctl.metrics.get(metric), top[metric]
    ctl.metrics['best_step'], ctl.metrics[f'best_{metric}'] = top['step'], best
    mode = getattr(ctl.best, 'mode', 'max')
    if final is not None and top['step'] != ctl.evaluated_at and \
            improved(best, final, mode):
        log.info('final eval %.4g %s best %.4g at step %d: exported the best (%s).', final,
                 '<' if mode == 'max' else '>', best, top['step'], ctl.metrics['export_best'])
