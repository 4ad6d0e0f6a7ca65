"""The exports of a run: its SavedModel (TF Serving layout) with the "unknown"
calibration, the multi-label thresholds and the operating point of the exported
checkpoint (a mixin of the Experiment)."""

import os

from jacktf.app import unknown as unknown_app
from jacktf.core.checkpoint_paths import step_in_name
from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import export, model_card


class RunExports:
    """Needs ``model``, ``model_dir``, ``train_files``, ``eval_files``, ``decode_fn``,
    ``class_names()`` and ``restore_latest()`` (the Experiment)."""

    def export(self, checkpoint=None, export_dir=None, restore=True):
        """Exports a SavedModel (TF Serving layout) and checks its parity."""
        path = self.restore_latest(checkpoint) if restore else None
        names, labels_path = self.class_names()
        version = step_in_name(path)  # ckpt-600 -> export/600
        self.use_thresholds(version)
        parity = export.parity_images(self.eval_files or self.train_files, self.decode_fn)
        result = export.export_saved_model(
            self.model, export_dir or self.export_base(path),
            class_names=names, labels_path=labels_path, version=version,
            parity_encoded=parity, unknown=unknown_lib.read(path) if path else None)
        model_card.store_operating_point(self.model_dir, version, result[0])
        return result

    def export_base(self, checkpoint):
        """Where exports of ``checkpoint`` go: MODEL_DIR/export_best for a checkpoint of
        MODEL_DIR/best (beside the SavedModel training exported from it), else
        MODEL_DIR/export."""
        best_dir = os.path.join(self.model_dir, 'best') + os.sep
        folder = 'export_best' if checkpoint and checkpoint.startswith(best_dir) else 'export'
        return os.path.join(self.model_dir, folder)

    def export_current(self, version, folder):
        """Calibrates the "unknown" answer of the model's current weights (those of
        checkpoints/ckpt-VERSION, or best/ckpt-VERSION for export_best) and exports them
        to MODEL_DIR/folder/version."""
        names, labels_path = self.class_names()
        self.use_thresholds(version)
        result = export.export_saved_model(
            self.model, os.path.join(self.model_dir, folder), class_names=names,
            labels_path=labels_path, version=version, parity_encoded=export.parity_images(
                self.eval_files or self.train_files, self.decode_fn),
            unknown=unknown_app.for_export(self, version, folder))
        model_card.store_operating_point(self.model_dir, version, result[0])
        return result

    def use_thresholds(self, step):
        """A multi-label model takes the per-label thresholds tuned by the evaluation
        of ``step`` (else the latest; MODEL_DIR/eval/thresholds.json) for its export."""
        if getattr(self.model, 'multi_label', False):
            from jacktf.evaluation import multilabel
            self.model.label_thresholds = multilabel.thresholds_for(
                self.model_dir, step, self.model.num_classes)
