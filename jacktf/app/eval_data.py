"""Evaluating a run on DATA given as users hold it (`jacktf eval --model_dir M DATA`):
a labelled folder, split folders (their test/, else val/), a CSV or TFRecord files.

The images are listed and checked as for training (jacktf.data.sources); the list is
written to MODEL_DIR/eval/data/<name>.json (a split file, see jacktf.data.split_file),
which the ``image_list`` decoder reads, so the report, the per-class table and the
pictures are those of the one evaluation function.
"""

import os

from jacktf.data import sources, split_file


def use_data(experiment, data):
    """Points ``experiment``'s evaluation at ``data``; returns the EVAL_FILES setting.

    Raises:
      DataError: unusable data (naming the path, the cause and the fix).
    """
    source = sources.open_source(data)
    registry = experiment.model.registry
    if source.form == 'tfrecord':
        files, decoder = source.eval_files or source.train_files, 'tfexample_classification'
    else:
        kept, skipped = sources.checked(source)
        content, split = split_file.for_eval(source, kept, skipped)
        path = os.path.join(experiment.model_dir, 'eval', 'data', f'{source.name}.json')
        split_file.write(path, content)
        files, decoder = split_file.ref(path, split), 'image_list'
    experiment.eval_files = files
    experiment.decode_fn = registry.get('decoder', decoder).factory()
    experiment.decoder_name = decoder
    return files
