"""A user's terminal shows no TensorFlow start-up noise unless they ask for it."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli
from jacktf.core import compat

NOISE = ('absl::InitializeLog', 'cuInit', 'oneDNN custom operations', 'cpu_feature_guard')


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('TF_CPP_MIN_LOG_LEVEL', 'JACKTF_VERBOSE')}
    env.update(extra)
    return env


def _noise_of_plain_tensorflow():
    """The noise markers a bare `import tensorflow` + device discovery prints here."""
    r = subprocess.run([sys.executable, '-c', 'import tensorflow as tf; '
                        'tf.config.list_physical_devices()'], capture_output=True,
                       text=True, timeout=300, env=_env())
    return [n for n in NOISE if n in r.stderr]


def _plugins(*extra):
    return subprocess.run([sys.executable, '-m', 'jacktf.cli', 'plugins', '--kind', 'head',
                           *extra], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=_env())


def test_real_command_is_quiet():
    quiet = _plugins()
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert 'logits' in quiet.stdout  # it ran (and imported TensorFlow): the heads listed
    found = [n for n in NOISE if n in quiet.stderr]
    assert found == [], quiet.stderr[-2000:]


@pytest.mark.slow
def test_verbose_shows_what_tensorflow_prints():
    verbose = _plugins('--verbose')
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    # What TensorFlow says at import on this machine reaches a verbose user unfiltered.
    import_noise = [n for n in _noise_of_plain_tensorflow() if n != 'cuInit']
    assert [n for n in import_noise if n not in verbose.stderr] == []


@pytest.mark.slow
def test_tiny_train_run_is_quiet(tmp_path):
    r = run_cli(['jacktf.cli', 'train', '--gin_file', 'gin/tiny_from_scratch.gin',
                 '--gin_param', 'TRAIN_STEPS = 2', '--gin_param', 'IMAGE_SIZE = 32',
                 '--gin_param', 'Experiment.export_at_end = False', '--mode', 'train',
                 '--model_dir', str(tmp_path / 'm')], env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Done at step 2' in r.stdout
    assert [n for n in NOISE if n in r.stderr] == [], r.stderr[-2000:]


def test_filter_keeps_every_other_line(capfd):
    with compat.filtered_stderr():
        os.write(2, b'W0000 port.cc:153] oneDNN custom operations are on. ...\n'
                    b'E0000 a real error the user must see\n'
                    b'I0000 failed call to cuInit: UNKNOWN ERROR (303)\n')
        print('python warning', file=sys.stderr)
    lines = capfd.readouterr().err.splitlines()
    assert sorted(lines) == ['E0000 a real error the user must see', 'python warning']


def _log_level(env, *code):
    r = subprocess.run([sys.executable, '-c', 'import os, jacktf\n'
                        'from jacktf.core import compat\n' + '\n'.join(code) +
                        "\nprint(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), "
                        "os.environ.get('JACKTF_VERBOSE'))"],
                       capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_log_level_respects_the_user():
    assert _log_level(_env(), 'compat.quiet_startup()') == ['2', 'None']
    assert _log_level(_env(TF_CPP_MIN_LOG_LEVEL='0'), 'compat.quiet_startup()') == [
        '0', 'None']
    assert _log_level(_env(), 'compat.quiet_startup(verbose=True)') == ['None', '1']
    assert _log_level(_env(JACKTF_VERBOSE='1'), 'compat.quiet_startup()') == ['None', '1']
    assert _log_level(_env(TF_CPP_MIN_LOG_LEVEL='1'),
                      'compat.quiet_startup(verbose=True)') == ['1', '1']


def test_the_tflite_converters_log_lines_stay_off_the_terminal(capfd, monkeypatch):
    """What the converter's C++ code prints on an int8 conversion is dropped; anything
    else it prints still shows, and -v (JACKTF_VERBOSE=1) shows all."""
    from jacktf.serve import tflite

    def convert():
        os.write(2, b'fully_quantize: 0, inference_type: 6, input_inference_type: UINT8\n'
                    b'W0000 00:00:1796 flatbuffer_export.cc:1] ops\nsomething else\n')
        return b'flat'
    monkeypatch.delenv('JACKTF_VERBOSE', raising=False)
    assert tflite._quietly(convert) == b'flat'
    err = capfd.readouterr().err
    assert 'something else' in err and 'fully_quantize' not in err and 'W0000' not in err
    monkeypatch.setenv('JACKTF_VERBOSE', '1')
    tflite._quietly(convert)
    assert 'fully_quantize' in capfd.readouterr().err
