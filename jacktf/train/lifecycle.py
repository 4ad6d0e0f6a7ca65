"""One run's life in MODEL_DIR: stop signals in every phase, and taking back a failed
start.

SIGTERM/SIGINT stop a run in every phase (see jacktf.train.signals). A run that fails
or is stopped before its first training step removes what it created in MODEL_DIR;
what was there before is never touched.
"""

import contextlib
import logging
import os
import threading

import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.core.rundir import CreatedFiles
from jacktf.train import recovery, strategy as strategy_lib
from jacktf.train.callbacks.stop import LOOP_GRACE_SECONDS
from jacktf.train.signals import StopRequests, Stopped

log = logging.getLogger('jacktf')
# Seconds a main thread blocked in TensorFlow gets after SIGTERM/SIGINT before the
# process is ended: before the first step there is nothing to save; in training, at
# least STEP_GRACE_FACTOR times the slowest step so far (callbacks.stop).
START_GRACE_SECONDS = 3.0
FORCED_SAVE_SECONDS = 20.0


class RunState:
    """What the forced-stop handler (another thread) needs to know about the run."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.stop = None  # the active StopRequests
        self.created = None  # what the run found in MODEL_DIR before writing
        self.stepped = False  # a training step of this run has completed
        self.in_step = False  # the main thread is inside a training step
        self.blocked_save = None  # saves the last completed step (see forced_stop)

    def take_back(self):
        """Removes what this run created in MODEL_DIR (a start that failed)."""
        if self.created is None:
            return []
        removed = self.created.remove()
        if removed:
            log.info('Removed what this run had created: %s', ', '.join(removed))
        return removed

    def latest(self):
        return tf.train.latest_checkpoint(os.path.join(self.model_dir, 'checkpoints'))

    def remove_staging(self):
        """Removes the half-written folders of this run (unfinished saves, export and
        feature-cache staging): a forced exit runs no ``finally`` block."""
        try:
            recovery.clear_leftovers(self.model_dir)
            cache = os.path.join(self.model_dir, 'feature_cache')
            for path in tf.io.gfile.glob(os.path.join(cache, f'*.tmp-{os.getpid()}')):
                fs_safety.remove_tree(path, cache)
        except Exception as e:  # noqa: BLE001 - the exit must still happen
            log.warning('Could not remove the staging folders in %s: %s', self.model_dir, e)

    def forced_stop(self, name):
        """Called from the signal watcher thread just before a forced exit."""
        grace = self.stop.grace_seconds if self.stop else 0
        if self.stepped or self.created is None:
            self.remove_staging()
        if not self.stepped:
            self.take_back()
            log.warning('%s received before the first training step while TensorFlow was '
                        'busy (building the model or filling the input pipeline): stopped '
                        'after %.0f s; nothing was saved.', name, grace)
            return
        saved = None
        if self.in_step and self.blocked_save is not None:
            result = []
            saver = threading.Thread(target=lambda: result.append(self.blocked_save()),
                                     daemon=True)
            saver.start()
            saver.join(FORCED_SAVE_SECONDS)
            saved = result[0] if result else None
        latest = saved or self.latest()
        log.warning('%s received, but the training step did not finish within %.0f s (the '
                    'input pipeline is blocked or slow): stopped %s. Run the same command '
                    'to resume from %s.', name, grace,
                    f'after saving {saved}' if saved else 'without a new checkpoint', latest)


def guarded(state, check, body, lock=None):
    """Runs ``check()`` (writes nothing), then ``body()``, under StopRequests; a failed
    or stopped start is taken back. ``lock`` (a jacktf.train.lock.RunLock, or None) is
    held from before ``check()`` to the end.

    Returns:
      What ``body`` returns; when a signal stopped the run, {stopped_by, checkpoint,
      model_dir}.
    """
    with StopRequests(grace_seconds=START_GRACE_SECONDS,
                      on_force=state.forced_stop) as stop:
        state.stop, state.stepped = stop, False
        try:
            with stop.interruptible():
                existed = tf.io.gfile.isdir(state.model_dir)
                if lock is not None:  # creates MODEL_DIR and the lock file in it
                    lock.acquire()
                if strategy_lib.is_chief():
                    state.created = CreatedFiles(state.model_dir)
                    state.created.existed = existed
                check()
                tf.io.gfile.makedirs(state.model_dir)
                return body()
        except BaseException as e:
            if not state.stepped:
                state.take_back()
            if not isinstance(e, Stopped):
                raise
            latest = state.latest() if state.stepped else None
            if latest:
                log.info('%s received: stopped; run the same command to resume from %s.',
                         e.signal_name, latest)
            else:
                log.info('%s received before the first training step: stopped; '
                         'nothing was saved.', e.signal_name)
            return {'stopped_by': e.signal_name, 'checkpoint': latest,
                    'model_dir': state.model_dir}
        finally:
            state.stop = state.created = None
            if lock is not None:
                lock.release()


@contextlib.contextmanager
def stop_requests(state):
    """The run's StopRequests, or one for a direct train() call."""
    if state.stop is not None:
        yield state.stop
        return
    with StopRequests(grace_seconds=LOOP_GRACE_SECONDS, on_force=state.forced_stop) as stop:
        state.stop = stop
        try:
            yield stop
        finally:
            state.stop = None
