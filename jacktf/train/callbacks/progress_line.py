"""ProgressLine: the text of the progress display."""

import logging
import math
import time

log = logging.getLogger('jacktf')


class ProgressLine:
    """Epoch (when its length is known), step, loss, accuracy, learning rate, images/s
    and ETA every N steps."""

    def __init__(self, total_steps, batch_size, first_step, steps_per_epoch=None):
        self.total_steps, self.batch = total_steps, batch_size
        self.steps_per_epoch = steps_per_epoch
        self.t0, self.s0 = time.time(), first_step
        self.loss = self.total = self.acc = 0.0
        self.n = 0

    def add(self, loss, total, acc):
        self.loss += loss
        self.total += total
        self.acc += acc
        self.n += 1

    def epoch(self, step):
        """'epoch e/E  ' of the step (the epoch it belongs to), or '' when unknown."""
        spe = self.steps_per_epoch
        if not spe:
            return ''
        return f'epoch {(max(step, 1) - 1) // spe + 1}/{math.ceil(self.total_steps / spe)}  '

    def means(self):
        """(loss, total loss, accuracy) averaged over the steps since the last line."""
        n = max(self.n, 1)
        return self.loss / n, self.total / n, self.acc / n

    def emit(self, step, lr, skipped=0):
        dt = max(time.time() - self.t0, 1e-9)
        rate = (step - self.s0) * self.batch / dt
        eta = (self.total_steps - step) * self.batch / rate if rate else float('inf')
        loss, total, acc = self.means()
        bad = f'  skipped {skipped} bad records' if skipped else ''
        log.info('%sstep %d/%d  loss %.4f (with regularization %.4f)  acc %.3f  lr %.3g  '
                 '%.1f img/s  ETA %s%s', self.epoch(step), step, self.total_steps, loss,
                 total, acc, lr, rate, _fmt_seconds(eta), bad)
        self.t0, self.s0, self.n = time.time(), step, 0
        self.loss = self.total = self.acc = 0.0
        return {'loss': loss, 'total_loss': total, 'accuracy': acc,
                'images_per_second': rate}


def _fmt_seconds(s):
    if not math.isfinite(s):
        return '?'
    s = int(s)
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


