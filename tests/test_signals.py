"""SIGTERM and SIGINT stop a run within seconds in every phase: start-up, an input
pipeline that is still filling or has stalled, training, evaluation."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from conftest import HERE, ROOT
from jacktf.train.signals import StopRequests, Stopped

STOP_WITHIN = 12  # seconds from the signal to the end of the process (grace is 3-5 s)


class Run:
    """tests/stall_run.py in a subprocess, its output read line by line."""

    def __init__(self, model_dir, *args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'stall_run.py'), str(model_dir), *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(re.search(pattern, line) for line in self.lines):
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        self.proc.kill()
        pytest.fail(f'{pattern!r} not seen:\n' + ''.join(self.lines)[-3000:])

    def wait_quiet(self, seconds, timeout=120):
        """Waits until the run has printed nothing for ``seconds``."""
        deadline, count, since = time.time() + timeout, len(self.lines), time.time()
        while time.time() < deadline:
            time.sleep(0.2)
            if len(self.lines) != count:
                count, since = len(self.lines), time.time()
            elif time.time() - since >= seconds:
                return
        pytest.fail('the run never went quiet:\n' + self.output[-3000:])

    def stop(self, signum):
        """Sends ``signum``; returns (exit code, seconds until the process ended)."""
        start = time.time()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail('the run did not stop within 60 s:\n' + ''.join(self.lines)[-3000:])
        self._reader.join(timeout=10)
        return code, time.time() - start

    @property
    def output(self):
        return ''.join(self.lines)


def _checkpoints(model_dir):
    state = tf.train.get_checkpoint_state(os.path.join(model_dir, 'checkpoints'))
    return [os.path.basename(p) for p in state.all_model_checkpoint_paths] if state else []


@pytest.mark.slow
def test_sigterm_while_the_input_pipeline_warms_up(tmp_path):
    """The first batch never comes: the main thread waits inside TensorFlow."""
    model_dir = tmp_path / 'm'
    run = Run(model_dir, '--stall_after', '1')
    run.wait_for(r'Training resnet_v1_tiny')
    time.sleep(4)  # tracing done, blocked in the first step's input
    code, seconds = run.stop(signal.SIGTERM)
    assert seconds < STOP_WITHIN, run.output[-3000:]
    assert code in (128 + signal.SIGTERM, 0), run.output[-3000:]
    assert 'SIGTERM received before the first training step' in run.output
    assert not os.path.exists(model_dir)  # nothing of a start that never trained


def test_sigint_during_start_up_stops_and_takes_back_the_model_dir(tmp_path):
    model_dir = tmp_path / 'm'
    run = Run(model_dir)
    run.wait_for(r'CHECKPOINT_PATH is None')
    code, seconds = run.stop(signal.SIGINT)
    assert seconds < STOP_WITHIN, run.output[-3000:]
    assert code in (0, 128 + signal.SIGINT), run.output[-3000:]
    assert 'SIGINT received before the first training step' in run.output
    assert 'Traceback' not in run.output
    assert not os.path.exists(model_dir)


@pytest.mark.slow
def test_sigterm_while_the_input_stalls_in_training_saves_the_last_step(tmp_path):
    model_dir = str(tmp_path / 'm')
    run = Run(model_dir, '--stall_after', '40')  # about 20 batches of 2, then a hung read
    run.wait_for(r'step 10/100000')
    run.wait_quiet(3)  # the input has stalled
    last = max(int(n) for n in re.findall(r'step (\d+)/100000', run.output))
    code, seconds = run.stop(signal.SIGTERM)
    assert seconds < STOP_WITHIN, run.output[-3000:]
    assert code == 128 + signal.SIGTERM, run.output[-3000:]
    assert re.search(r'SIGTERM received, but the training step did not finish within 5 s '
                     rf'.*stopped after saving \S+/ckpt-{last}\.', run.output), \
        run.output[-3000:]
    assert _checkpoints(model_dir)[-1] == f'ckpt-{last}'
    # The same command resumes from it.
    r = subprocess.run([sys.executable, os.path.join(HERE, 'stall_run.py'), model_dir,
                        '--train_steps', str(last + 2)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f'at step {last}' in r.stdout
    assert f'step {last + 1}/{last + 2}' in r.stdout and f'step {last + 2}/' in r.stdout


@pytest.mark.slow
def test_sigint_during_evaluation_saves_the_step_and_exits_0(tmp_path):
    model_dir = str(tmp_path / 'm')
    run = Run(model_dir, '--eval_every', '3', '--eval_delay', '0.1')  # 20 s of eval
    run.wait_for(r'step 3/100000')
    time.sleep(1.5)
    code, seconds = run.stop(signal.SIGINT)
    assert seconds < STOP_WITHIN, run.output[-3000:]
    assert code == 0, run.output[-3000:]
    assert re.search(r'SIGINT received at step 3: checkpoint \S+/ckpt-3 written',
                     run.output), run.output[-3000:]
    assert 'eval at step 3' not in run.output  # the evaluation was cut short
    assert _checkpoints(model_dir)[-1] == 'ckpt-3'


def test_stop_requests_interruptible_and_polling():
    with StopRequests() as stop:
        with stop.interruptible(False):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            assert stop.requested == 'SIGTERM'  # polled, not raised
        with pytest.raises(Stopped) as e:
            with stop.interruptible():
                pass  # a pending request raises on entry
        assert e.value.signal_name == 'SIGTERM'
        stop.acknowledge()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with StopRequests() as stop:
        with pytest.raises(Stopped):
            with stop.interruptible():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
        stop.acknowledge()


def test_a_blocked_main_thread_is_ended_after_the_grace_period():
    code = ('import signal, threading, time\n'
            'from jacktf.train.signals import StopRequests\n'
            'with StopRequests(grace_seconds=1, on_force=lambda n: print("forced", n, '
            'flush=True)):\n'
            '    print("ready", flush=True)\n'
            '    threading.Event().wait()  # blocks without running Python handlers\n')
    proc = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == 'ready'
    start = time.time()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and out.strip() == 'forced SIGTERM'
    assert 0.9 < time.time() - start < 5
