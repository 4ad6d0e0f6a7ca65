"""What an evaluation pass keeps for its pictures: the confusion counts and the top
losses (with their model inputs, file names and records), fed batch by batch."""

import numpy as np

from jacktf.evaluation import top_losses as top_losses_lib


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def _value(item):
    """A tensor as numpy; bytes (an encoded image) and arrays as they are."""
    return item.numpy() if hasattr(item, 'numpy') else item


class EvalCollector:
    """Collects one evaluation pass.

    Args:
      num_classes: K.
      top_losses: how many of the most confidently wrong examples to keep.
    """

    def __init__(self, num_classes, top_losses=top_losses_lib.DEFAULT_SIZE):
        self.num_classes = int(num_classes)
        self.confusion = np.zeros([self.num_classes] * 2, np.int64)
        self.top = top_losses_lib.TopLosses(top_losses)

    @property
    def misclassified(self):
        return self.top.misclassified

    def add_confusion(self, matrix):
        """Adds [K, K] counts (e.g. summed over replicas in the eval step)."""
        self.confusion += np.rint(np.asarray(matrix)).astype(np.int64)

    def add(self, *, labels, probabilities, inputs, filenames=None, records=None,
            count_confusion=True):
        """Considers one batch.

        Args:
          labels: int [B].
          probabilities: float [B, K].
          inputs: B pictures or model inputs (a sequence, array or tensor; only the
            kept ones are read).
          filenames / records: B strings or bytes (None: unknown).
          count_confusion: also count the batch into the confusion matrix (False when
            the eval step counts it itself).
        """
        labels = np.asarray(labels, np.int64)
        probabilities = np.asarray(probabilities)
        if count_confusion:
            np.add.at(self.confusion, (labels, probabilities.argmax(1)), 1)

        def fetch(indices):
            return [{'input': _value(inputs[i]),
                     'filename': _text(filenames[i]) if filenames is not None else '',
                     'record': _text(records[i]) if records is not None else ''}
                    for i in indices]

        self.top.add(labels=labels, probabilities=probabilities, fetch=fetch)

    def examples(self, cam_fn=None, display_fn=top_losses_lib.display_image):
        """The kept examples, worst first, each with 'image' (uint8, for people) and
        'cam' (from ``cam_fn(list of inputs)`` -> list of maps, or None).

        Args:
          cam_fn: computes the maps of the kept inputs (None: no maps).
          display_fn: input -> uint8 RGB picture.
        """
        examples = self.top.examples()
        cams = cam_fn([e['input'] for e in examples]) if cam_fn and examples else None
        for n, e in enumerate(examples):
            e['image'] = display_fn(e['input'])
            e['cam'] = None if cams is None else cams[n]
        return examples
