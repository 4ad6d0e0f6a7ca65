"""A --gin_param gin cannot parse names the flag and says how to write it."""

import pytest

from jacktf.core.errors import ConfigError


@pytest.fixture
def parse(default_registry):
    from jacktf.app import configurables
    return configurables.parse


@pytest.mark.parametrize('binding,expected', [
    ('TRAIN_FILES = /data/pets/train-*.tfrecord',
     'Text values need quotes: TRAIN_FILES = \'/data/pets/train-*.tfrecord\''),
    ('TRAIN_STEPS 50', 'A binding reads NAME = VALUE'),
    ('LEARNING_RATE = 0.01,', 'Values are Python literals'),
])
def test_unparsable_binding_names_the_flag_and_the_fix(parse, binding, expected):
    with pytest.raises(ConfigError) as info:
        parse(['gin/tiny_from_scratch.gin'], ['TRAIN_STEPS = 3', binding])
    text = str(info.value)
    assert text.startswith(f'Cannot parse --gin_param "{binding}": ')
    assert expected in text and '(line 2)' not in text
