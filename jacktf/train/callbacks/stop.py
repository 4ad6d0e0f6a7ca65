"""Stop signals in the training loop: the grace period, the save and the clean stop."""

import logging

import tensorflow as tf

from jacktf.train.callbacks.base import Callback

log = logging.getLogger('jacktf')
LOOP_GRACE_SECONDS = 5.0
STEP_GRACE_FACTOR = 3.0


class StopSignals(Callback):
    """After SIGTERM/SIGINT, saves the step just finished and stops the run (resume with
    the same command). Keeps the grace a blocked step gets at least STEP_GRACE_FACTOR
    times the slowest step so far, and lets the forced stop save the last completed step
    from another thread while a step waits for its input."""

    order = 90  # last: ends the step after every other callback saw it

    def on_train_begin(self, ctl):
        self.slowest, self.first = 0.0, True
        if not ctl.inputs.deterministic and not isinstance(
                ctl.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # A step blocked on its input has applied nothing yet: another thread may
            # save the last completed step. (Not with the iterator in the checkpoint,
            # which the blocked step holds, nor with other workers to coordinate.)
            ctl.state.blocked_save = lambda: ctl.manager.save(
                checkpoint_number=int(ctl.step.numpy()))

    def on_step_end(self, ctl, step, logs):
        if not self.first:  # the first step includes tracing and warm-up
            self.slowest = max(self.slowest, logs['seconds'])
        self.first = False
        stop = ctl.stop
        stop.grace_seconds = max(LOOP_GRACE_SECONDS, STEP_GRACE_FACTOR * self.slowest)
        if not stop.requested:
            return
        stop.acknowledge()
        manager = ctl.manager
        if not (manager.latest_checkpoint or '').endswith(f'-{step}'):
            manager.save(checkpoint_number=step)
        log.info('%s received at step %d: checkpoint %s written; run the same command to '
                 'resume.', stop.requested, step, manager.latest_checkpoint)
        ctl.stop_training = True
        ctl.result = {'step': step, 'stopped_by': stop.requested,
                      'checkpoint': manager.latest_checkpoint}

