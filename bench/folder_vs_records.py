"""Images/s of the training input read straight from a folder of JPEGs (what `jacktf
train DATA` does: split.json + the image_list decoder) vs from the TFRecords `jacktf
convert` writes of the same images, through the same pipeline (checks, decode,
preprocessing at --size, batching), side by side in one process.

Usage: python bench/folder_vs_records.py [--folder DIR] [--size 224] [--batch 32]
       [--seconds 10]
Without --folder it writes the digits folder of bench/digits_folder.py (needs the bench
extra) into a temporary folder. Prints JSON: images/s of each and folder / records.
"""

import argparse
import os
import sys
import tempfile

from common import emit, rate

from jacktf.core import plugins
from jacktf.data import converter, pipeline, sources, split_file


def reader_rate(files, decode_fn, preprocess, batch, seconds):
    ds = pipeline.read_dataset(files, decode_fn=decode_fn, preprocess_fn=preprocess,
                               batch_size=batch, is_training=True, seed=0)
    iterator = iter(ds)
    return rate(lambda: next(iterator), batch, warmup=5, min_seconds=seconds)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--folder')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--seconds', type=float, default=10)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix='jacktf-bench-')
    folder = args.folder
    if folder is None:
        import digits_folder
        digits_folder.write(work, test_fraction=0.0)
        folder = os.path.join(work, 'digits')
    source = sources.open_source(folder)
    kept, skipped = sources.checked(source)
    split_path = os.path.join(work, 'run', split_file.NAME)
    split_file.write(split_path, split_file.make(source, kept, skipped, fraction=0.1))
    records = os.path.join(work, 'records')
    converter.convert(folder, records, val_fraction=0.1, num_shards=4, progress=False)
    registry = plugins.load_registry()
    prep = registry.get('preprocessor', 'inception').factory

    def preprocess(image, training, seed):
        return prep(image, image_size=args.size, is_training=training, seed=seed)

    folder_rate = reader_rate(split_file.ref(split_path, 'train'),
                              registry.get('decoder', 'image_list').factory(), preprocess,
                              args.batch, args.seconds)
    records_rate = reader_rate(os.path.join(records, 'train-*.tfrecord'),
                               registry.get('decoder', 'tfexample_classification').factory(),
                               preprocess, args.batch, args.seconds)
    return emit({'benchmark': 'folder_vs_records', 'images': len(kept),
                 'size': args.size, 'batch': args.batch, 'cpus': os.cpu_count(),
                 'folder_images_per_s': round(folder_rate, 1),
                 'records_images_per_s': round(records_rate, 1),
                 'folder_over_records': round(folder_rate / records_rate, 3)})


if __name__ == '__main__':
    main(sys.argv[1:])
