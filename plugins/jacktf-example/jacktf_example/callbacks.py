"""A third-party training callback: the loss of every N-th step as JSON lines.

It imports only ``jacktf`` (its public ``jacktf.Callback``), as every plugin should.
"""

import json
import os

import jacktf


class LossLog(jacktf.Callback):
    """Appends {"step", "loss", "accuracy"} every ``every_steps`` steps to
    MODEL_DIR/<filename> (one JSON object per line), on the chief only.

    Args:
      every_steps: steps between lines.
      filename: the file in the model directory.
    """

    def __init__(self, every_steps=10, filename='loss_log.jsonl'):
        self.every_steps = max(1, int(every_steps))
        self.filename = filename

    def on_step_end(self, ctl, step, logs):
        if not ctl.chief or step % self.every_steps:
            return
        with open(os.path.join(ctl.model_dir, self.filename), 'a') as f:
            f.write(json.dumps({'step': step, 'loss': logs['loss'],
                                'accuracy': logs['accuracy']}) + '\n')
