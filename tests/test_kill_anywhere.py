"""Kill anywhere: a demo run SIGKILLed at 10 random moments over its whole life (start,
training, evaluation, best-k save, export) resumes each time and ends whole: the final
checkpoint at TRAIN_STEPS, no unreadable checkpoint, no partial export under export/."""

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from conftest import ROOT
from jacktf.train import recovery
from jacktf.train.lock import LOCK_NAME

STEPS = 30
FLAGS = ['--gin_file=gin/tiny_from_scratch.gin', '--gin_param=IMAGE_SIZE = 32',
         '--gin_param=BATCH_SIZE = 8', f'--gin_param=TRAIN_STEPS = {STEPS}',
         '--gin_param=Trainer.log_every_steps = 1',
         '--gin_param=Trainer.checkpoint_every_steps = 5',
         '--gin_param=periodic_eval.every_steps = 10', '--gin_param=Trainer.keep_best = 2']
# Where each kill lands: (a line to wait for, or None for the start; seconds after it).
PHASES = {
    'start': (None, (0.5, 6.0)),                       # imports, model build, restore
    'training': (r'step \d+/30 ', (0.0, 1.0)),
    'evaluation': (r'step (10|20)/30 ', (0.0, 0.4)),  # the periodic eval follows
    'best-k save': (r'eval at step \d+', (0.0, 0.05)),
    'export': (r'eval at step 30', (0.0, 4.0)),        # the final eval, then the exports
}
SCHEDULE = ['start', 'training', 'evaluation', 'best-k save', 'training', 'evaluation',
            'best-k save', 'export', 'export', 'export']


class Launch:
    """One `python -m jacktf.run` of the demo, its output read as it comes."""

    def __init__(self, model_dir):
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'jacktf.run', f'--model_dir={model_dir}'] + FLAGS,
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started = time.time()
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.time(), line))

    @property
    def output(self):
        return ''.join(line for _, line in self.lines)

    def kill_in(self, phase, rng, timeout=240):
        """SIGKILLs the run in ``phase``; returns False when it ended on its own first."""
        pattern, (low, high) = PHASES[phase]
        deadline = time.time() + timeout
        seen = self.started if pattern is None else None
        while seen is None and time.time() < deadline:
            seen = next((t for t, line in self.lines if re.search(pattern, line)), None)
            if seen is None and self.proc.poll() is not None:
                self.reader.join(10)
                seen = next((t for t, line in self.lines if re.search(pattern, line)), None)
                if seen is None:
                    return False
            time.sleep(0.02)
        assert seen is not None, f'{pattern!r} not seen:\n{self.output[-3000:]}'
        time.sleep(max(0.0, seen + rng.uniform(low, high) - time.time()))
        if self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(60) == -signal.SIGKILL
        self.reader.join(10)
        return True

    def finish(self, timeout=300):
        code = self.proc.wait(timeout)
        self.reader.join(10)
        return code


def _latest_step(model_dir):
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints'))
    return int(latest.rsplit('-', 1)[1]) if latest else None


def _check_whole(model_dir):
    """Every checkpoint reads whole; every numbered export is complete."""
    ckpt_dir = os.path.join(model_dir, 'checkpoints')
    if os.path.isdir(ckpt_dir):
        state = tf.train.get_checkpoint_state(ckpt_dir)
        named = list(state.all_model_checkpoint_paths) if state else []
        for prefix in named + [p[:-6] for p in tf.io.gfile.glob(f'{ckpt_dir}/*.index')]:
            assert recovery.unreadable(prefix) is None, prefix
    for folder in ('export', 'export_best'):
        base = os.path.join(model_dir, folder)
        for name in os.listdir(base) if os.path.isdir(base) else ():
            if name.startswith('.'):
                continue  # a staging folder: hidden, never served, cleared on the next start
            assert name.isdigit(), name
            version = os.path.join(base, name)
            assert os.path.exists(os.path.join(version, 'saved_model.pb')), version
            assert os.path.exists(os.path.join(version, 'variables', 'variables.index')), \
                version
            assert os.path.exists(os.path.join(version, 'assets', 'labels.txt')), version


def _resumed(output, expected):
    """True when the run restored step ``expected`` (None: started afresh), None when it
    was killed before it got that far; fails when it restored anything else."""
    match = re.search(r'Resuming from \S+/ckpt-(\d+) at step (\d+)', output)
    if match:
        assert expected is not None and int(match.group(2)) == expected, output[-3000:]
        return True
    if 'from scratch' in output:
        assert expected is None, output[-3000:]
        return True
    assert 'Training resnet_v1_tiny' not in output, output[-3000:]
    return None


@pytest.mark.slow
def test_sigkill_at_ten_random_moments_then_resume(tmp_path):
    seed = int(os.environ.get('JACKTF_KILL_SEED', random.randrange(10 ** 6)))
    rng = random.Random(seed)
    model_dir = str(tmp_path / 'm')
    kills, unconfirmed = [], []
    pending = list(SCHEDULE)
    for attempt in range(25):
        run = Launch(model_dir)
        expected = _latest_step(model_dir)
        killed = run.kill_in(pending[0], rng) if pending else run.finish() == 0 and None
        output = run.output
        if _resumed(output, expected):
            for kill in unconfirmed:
                kill['resumed'] = True
            unconfirmed = []
        if not pending:  # the last run, to the end
            assert run.proc.returncode == 0, f'seed {seed}:\n{output[-3000:]}'
            break
        if not killed:  # ended on its own before its kill: training is over
            assert run.proc.returncode == 0, f'seed {seed}:\n{output[-3000:]}'
            pending = ['export'] * len(pending)
            continue
        kills.append({'phase': pending.pop(0), 'at_step': _latest_step(model_dir),
                      'resumed': False})
        unconfirmed.append(kills[-1])
        _check_whole(model_dir)
    else:
        pytest.fail(f'seed {seed}: too many runs: {kills}')
    assert len(kills) == 10 and all(k['resumed'] for k in kills), f'seed {seed}: {kills}'
    assert 'Took over the lock' in output  # the last kill (in export) left its lock
    assert _latest_step(model_dir) == STEPS
    assert re.search(rf'Done at step {STEPS}: .*Checkpoint: \S+/ckpt-{STEPS}\.', output)
    _check_whole(model_dir)
    assert os.path.isdir(os.path.join(model_dir, 'export', str(STEPS)))
    for folder in ('export', 'export_best'):  # the final run cleared every staging folder
        assert not [n for n in os.listdir(os.path.join(model_dir, folder))
                    if n.startswith('.')], folder
    assert not os.path.exists(os.path.join(model_dir, LOCK_NAME))
    print(f'seed {seed}: kills {kills}')
