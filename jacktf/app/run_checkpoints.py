"""The checkpoints of a run for inference: which one (given, the best best-k kept,
or the latest that reads whole), loading it (with the moving averages when the run
keeps them), and the eval mode's report of it (a mixin of the Experiment)."""

import logging
import os

import tensorflow as tf

from jacktf.core.checkpoint_paths import resolve_checkpoint, step_in_name
from jacktf.core.errors import ConfigError, RestoreError
from jacktf.pretrained import resolve_checkpoint as resolve_pretrained
from jacktf.train import checkpointing, recovery

log = logging.getLogger('jacktf')


class RunCheckpoints:
    """Needs ``model``, ``trainer`` and ``model_dir`` (the Experiment)."""

    def restore_latest(self, checkpoint=None):
        """Loads a checkpoint of this model directory (the latest by default)."""
        self.model.build()
        path = self._find_checkpoint(checkpoint)
        variables, _ = self.trainer.split_variables(self.model)
        ema = self.trainer.make_ema(variables)
        extra = {'ema_shadows': [ema.average(v) for v in variables]} if ema else {}
        tf.train.Checkpoint(network=self.model.network, **extra).restore(
            path).expect_partial()
        if ema is not None:  # inference from a checkpoint uses the averaged weights
            for v in variables:
                v.assign(ema.average(v))
        return path

    def _find_checkpoint(self, checkpoint=None):
        """A checkpoint prefix: ``checkpoint`` (a prefix or a folder's latest), else the
        run's model: the best checkpoint best-k kept in MODEL_DIR/best (the one the run
        exported to export_best/) when it is not the latest step, else the latest of
        MODEL_DIR/checkpoints (so its exports go to export/ as before). Raises
        ConfigError naming what is missing."""
        if checkpoint:  # the same forms CHECKPOINT_PATH takes (.index, folders, ...)
            try:
                return resolve_checkpoint(checkpoint, '--checkpoint',
                                          resolve_uri=resolve_pretrained)
            except RestoreError as e:
                raise ConfigError(str(e)) from None
        ckpt_dir = os.path.join(self.model_dir, 'checkpoints')
        path, _ = recovery.recover(ckpt_dir, repair=False)  # the newest that reads whole
        best = checkpointing.best_entry(self.model_dir)
        if best is not None and (path is None or step_in_name(path) != best['step']):
            metric = next((k for k in best if k not in ('step', 'checkpoint')), 'eval')
            log.info('Using the best checkpoint %s (eval %s %.4g at step %d); for the '
                     'latest give --checkpoint %s.', best['checkpoint'], metric,
                     best.get(metric, float('nan')), best['step'], ckpt_dir)
            return best['checkpoint']
        if path is None:
            state = 'is empty' if tf.io.gfile.isdir(ckpt_dir) else 'does not exist'
            raise ConfigError(f'No checkpoint in {ckpt_dir} (the folder {state}): train '
                              f'first (python -m jacktf.run --gin_file RECIPE --model_dir '
                              f'{self.model_dir}), or give --checkpoint PREFIX.')
        return path

    def evaluate_latest(self, checkpoint=None, saved_model=None, tta=None,
                        top_losses=None):
        """The full evaluation report of a checkpoint or SavedModel on EVAL_FILES (see
        jacktf.app.evaluation.evaluate_run for the arguments and the files written)."""
        from jacktf.app.evaluation import evaluate_run
        return evaluate_run(self, checkpoint, saved_model, tta, top_losses)
