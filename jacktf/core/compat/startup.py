"""Keeping TensorFlow's start-up noise off a user's terminal (part of ``compat``).

TensorFlow writes its start-up lines through absl's C++ logging straight to file
descriptor 2, before ``absl::InitializeLog()``, so TF_CPP_MIN_LOG_LEVEL alone does not
silence them: the absl banner (once per TensorFlow library, so twice), oneDNN and
CPU-feature notes, "failed call to cuInit" on machines without a GPU.
``quiet_startup`` runs the first ``import tensorflow`` with those lines filtered out;
``--verbose`` / JACKTF_VERBOSE=1 shows everything.
"""

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile

_log_level_set_here = False


def set_default_log_level():
    """TF_CPP_MIN_LOG_LEVEL=2 before TensorFlow is imported, unless the user set a level
    or asked for verbose logs (``quiet_startup(verbose=True)`` takes it back)."""
    global _log_level_set_here
    if 'TF_CPP_MIN_LOG_LEVEL' not in os.environ and not verbose_requested():
        os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
        _log_level_set_here = True


# Lines TensorFlow writes to stderr while it starts, whatever TF_CPP_MIN_LOG_LEVEL says.
STARTUP_NOISE = (
    'All log messages before absl::InitializeLog() is called',
    'oneDNN custom operations are on',
    'Could not find cuda drivers on your machine',
    'failed call to cuInit',
    'cpu_feature_guard.cc',
    'To enable the following instructions:',
    'Unable to register cuDNN factory',
    'Unable to register cuFFT factory',
    'Unable to register cuBLAS factory',
    'computation placer already registered',
    'TF-TRT Warning: Could not find TensorRT',
)


def verbose_requested():
    """True when the environment asks for TensorFlow's own logs (JACKTF_VERBOSE=1)."""
    return os.environ.get('JACKTF_VERBOSE', '').strip().lower() not in ('', '0', 'false',
                                                                        'no')


def quiet_startup(verbose=False):
    """Shows or hides TensorFlow's start-up noise; call before TensorFlow is imported.

    Quiet (the default): TF_CPP_MIN_LOG_LEVEL=2 unless the user set it, and the first
    ``import tensorflow`` (with the device discovery that prints "failed call to
    cuInit" on machines without a GPU) runs with the lines of ``STARTUP_NOISE``
    filtered out of stderr; every other line still reaches the terminal. Verbose
    (``verbose`` or JACKTF_VERBOSE=1): TensorFlow logs as it likes; JACKTF_VERBOSE=1
    is set for child processes.

    Args:
      verbose: the user asked for verbose logs (e.g. ``--verbose``).
    """
    global _log_level_set_here
    if verbose or verbose_requested():
        os.environ['JACKTF_VERBOSE'] = '1'
        if _log_level_set_here and 'tensorflow' not in sys.modules:
            os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)
            _log_level_set_here = False
        return
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    if 'tensorflow' not in sys.modules and not any(
            isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


@contextlib.contextmanager
def filtered_stderr(noise=STARTUP_NOISE):
    """Within the block, file descriptor 2 (where TensorFlow's C++ code writes) goes to
    a temporary file; at its end the lines not containing a ``noise`` text are written
    back to stderr, in order."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode('utf-8', errors='replace')
            kept = [line for line in text.splitlines(keepends=True)
                    if not any(n in line for n in noise)]
            if kept:
                os.write(2, ''.join(kept).encode('utf-8'))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first ``import tensorflow`` (and its device discovery) inside
    ``filtered_stderr``, then steps out of the import system."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'tensorflow':
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # resources, get_code, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # cuInit and friends speak here
