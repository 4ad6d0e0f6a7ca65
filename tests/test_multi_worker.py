"""MultiWorkerMirroredStrategy: two local worker processes train and end equal."""

import json
import os
import re
import socket
import subprocess
import sys
import pytest

import numpy as np
import tensorflow as tf

from conftest import ROOT
from jacktf.core.restore import checkpoint_variables


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(('localhost', 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_and_end_with_equal_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {'worker': [f'localhost:{p}' for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
        procs.append(subprocess.Popen(
            [sys.executable, '-m', 'jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
             f'--model_dir={tmp_path}/m', '--mode=train',
             "--gin_param=Experiment.strategy = 'multi_worker_mirrored'",
             '--gin_param=TRAIN_STEPS = 12', '--gin_param=BATCH_SIZE = 16',
             '--gin_param=Trainer.checkpoint_every_steps = 6',
             '--gin_param=Experiment.export_at_end = False'],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    ckpts = [re.search(r'Checkpoint: (\S+)\. TensorBoard', out).group(1) for out, _ in outs]
    assert ckpts[0] == f'{tmp_path}/m/checkpoints/ckpt-12'  # the chief writes MODEL_DIR
    assert not ckpts[1].startswith(f'{tmp_path}/m/')      # the other worker does not
    readers = [checkpoint_variables(c) for c in ckpts]
    network = [sorted(n for n in r[1] if n.startswith(('resnet_v1_tiny/', 'Predict/')))
               for r in readers]
    names = network[0]
    assert names == network[1] and len(names) == 82  # 80 backbone + 2 head
    for name in names:
        a = readers[0][0].get_tensor(readers[0][1][name][0])
        b = readers[1][0].get_tensor(readers[1][1][name][0])
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert 'on 2 replica(s)' in outs[0][0]
