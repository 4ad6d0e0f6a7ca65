"""Shared fixtures: a private demo-data cache, fresh registries, small helpers."""

import os
import subprocess
import sys

import pytest

import jacktf  # noqa: F401  (must come before tensorflow: legacy Keras for slim)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(HERE, 'fixtures')


def pytest_configure(config):
    cache = os.environ.setdefault(
        'JACKTF_CACHE_DIR', os.path.join(config.rootpath, '.pytest_cache', 'jacktf-data'))
    os.makedirs(cache, exist_ok=True)


@pytest.fixture(autouse=True)
def jacktf_log_reaches_caplog():
    """runtime.setup_logging stops 'jacktf' propagating (it prints its own lines); tests
    read the lines with caplog, whatever an earlier in-process command did."""
    import logging
    logger = logging.getLogger('jacktf')
    propagate, logger.propagate = logger.propagate, True
    yield
    logger.propagate = propagate


@pytest.fixture(autouse=True)
def no_op_determinism_after_a_test():
    """A deterministic run turns on TensorFlow's process-wide op determinism; the next
    test in this process starts without it, as a new process would."""
    yield
    from jacktf.core import compat
    compat.disable_op_determinism()


@pytest.fixture
def registry():
    """A fresh registry of the built-in plugins only."""
    from jacktf.core import plugins
    return plugins.load_registry(autoload=False)


@pytest.fixture(scope='session')
def default_registry():
    from jacktf.core import plugins
    from jacktf.app import configurables
    reg = plugins.set_default_registry(plugins.load_registry(autoload=False))
    configurables.register(reg)
    return reg


def read_manifest(name):
    """{name: shape list} from a slim manifest .tsv (comment lines skipped)."""
    rows = {}
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            parts = line.rstrip('\n').split('\t')
            rows[parts[0]] = [int(d) for d in parts[1].split(',') if d.strip()]
    return rows


def read_endpoints(name):
    """[(endpoint name, shape)] from a slim endpoints .tsv, in order."""
    out = []
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            parts = line.rstrip('\n').split('\t')
            out.append((parts[0], [int(d) for d in parts[1].split(',')]))
    return out


def run_cli(args, env=None, timeout=600, cwd=None):
    """Runs `python -m <args>` in a subprocess; returns CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, '-m'] + list(args), capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd or ROOT)


def read_events(folder):
    """Every event of the event files in ``folder``, read by TensorBoard's own loader."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    out = []
    for name in sorted(os.listdir(folder)):
        if name.startswith('events'):
            out += list(EventFileLoader(os.path.join(folder, name)).Load())
    return out
