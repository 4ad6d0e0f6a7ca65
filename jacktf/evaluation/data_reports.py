"""Where an evaluation report goes: the training run's data keeps MODEL_DIR/eval; other
data gets a folder of its own beside it, named by the data, so re-evaluating a run on
another set never overwrites the run's own report.

``report_dir(model_dir, eval_files)``: MODEL_DIR/eval when ``eval_files`` are the run's
EVAL_FILES (as its operative_config.gin binds them, or when the run recorded none), else
MODEL_DIR/eval/data-<name>-<digest>, <name> from the files' path and <digest> the first
8 hex digits of the SHA-256 of the setting.
"""

import ast
import hashlib
import os
import re

OPERATIVE_CONFIG = 'operative_config.gin'
_BINDING = re.compile(r'^EVAL_FILES\s*=\s*(.+)$', re.MULTILINE)


def training_eval_files(model_dir):
    """The EVAL_FILES the run in ``model_dir`` was configured with, or None (unknown)."""
    path = os.path.join(model_dir, OPERATIVE_CONFIG)
    try:
        with open(path) as f:
            match = _BINDING.search(f.read())
    except OSError:
        return None
    if not match:
        return None
    try:
        return ast.literal_eval(match.group(1).strip())
    except (ValueError, SyntaxError):
        return match.group(1).strip()


def data_name(eval_files):
    """A folder name for ``eval_files``: readable path parts plus a digest."""
    text = str(eval_files)
    parts = [p for p in re.split(r'[\\/]+', text.replace('://', '/'))
             if p and not any(c in p for c in '*?[')][-2:]
    readable = re.sub(r'[^A-Za-z0-9._-]+', '_', '_'.join(parts)).strip('._')[:40]
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f'data-{readable or "files"}-{digest}'


def report_dir(model_dir, eval_files):
    """MODEL_DIR/eval for the run's own EVAL_FILES, else a folder named by the data."""
    base = os.path.join(model_dir, 'eval')
    trained_on = training_eval_files(model_dir)
    if trained_on is None or str(trained_on) == str(eval_files):
        return base
    return os.path.join(base, data_name(eval_files))
