"""TensorBoard text and hparams: a warm-started run's events hold the operative config
and the restore report (step 0), the batch preview image, and an HParams session."""


import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import run_cli, read_events


def _tagged(events):
    """{tag: [(step, plugin name, tensor)]}."""
    out = {}
    for event in events:
        for value in event.summary.value:
            out.setdefault(value.tag, []).append(
                (event.step, value.metadata.plugin_data.plugin_name, value))
    return out


@pytest.fixture(scope='module')
def warm_run(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp('tb') / 'run'
    proc = run_cli(['jacktf.run', '--gin_file=gin/demo.gin', '--gin_param=IMAGE_SIZE = 64',
                    '--gin_param=TRAIN_STEPS = 2', '--gin_param=BATCH_SIZE = 8',
                    '--gin_param=EVAL_FILES = None', '--gin_param=LEARNING_RATE = 0.02',
                    '--gin_param=Experiment.export_at_end = False',
                    '--gin_param=Experiment.shuffle_buffer = 64',
                    f'--model_dir={model_dir}'], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir


@pytest.mark.slow
def test_text_summaries_hold_the_operative_config_and_restore_report(warm_run):
    tags = _tagged(read_events(warm_run / 'train'))
    (step, plugin, value), = tags['config/operative_config']
    assert step == 0 and plugin == 'text'
    text = tf.make_ndarray(value.tensor).item().decode()
    with open(warm_run / 'operative_config.gin') as f:
        config = f.read()
    assert 'LEARNING_RATE = 0.02' in config and 'Trainer.learning_rate' in config
    assert text == '\n'.join('    ' + line for line in config.splitlines())
    (step, plugin, value), = tags['config/restore_report']
    report = tf.make_ndarray(value.tensor).item().decode()
    assert step == 0 and plugin == 'text'
    assert 'builtin' in report or 'mobilenet_v1_0.25' in report
    assert '135 restored' in report and '2 auto-excluded' in report
    # The batch preview is there too, at step 0.
    (step, plugin, _), = tags['batch_preview']
    assert step == 0 and plugin == 'images'


@pytest.mark.slow
def test_hparams_session_names_the_run_settings(warm_run):
    tags = _tagged(read_events(warm_run))
    (step, plugin, value), = tags[hparams_metadata.SESSION_START_INFO_TAG]
    assert plugin == hparams_metadata.PLUGIN_NAME
    data = plugin_data_pb2.HParamsPluginData.FromString(
        value.metadata.plugin_data.content)
    hparams = data.session_start_info.hparams
    assert hparams['backbone'].string_value == 'mobilenet_v1_025'
    assert hparams['learning_rate'].number_value == pytest.approx(0.02)
    assert hparams['batch_size'].number_value == 8
    assert hparams['optimizer'].string_value == 'momentum'
    assert hparams['lr_schedule'].string_value == 'cosine'
    assert hparams['image_size'].number_value == 64
    assert data.session_start_info.group_name == 'run'
