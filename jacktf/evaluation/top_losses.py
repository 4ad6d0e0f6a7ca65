"""Top losses: the most confidently wrong examples of an evaluation, collected while it
runs (only the ``size`` worst are kept, so memory and time do not grow with the data),
written as a CSV a user can fix mislabeled data from.

An example is a candidate when the model's prediction differs from its label; the
candidates are ranked by their loss (-log of the probability given to the label), so a
confident wrong answer ranks above a hesitant one.
"""

import csv
import heapq
import io

import numpy as np

from jacktf.core.files import write_atomic

DEFAULT_SIZE = 16
UNKNOWN_NAME = '(unknown: the record has no image/filename)'
CSV_FIELDS = ('rank', 'filename', 'record', 'true_class', 'true_label',
              'predicted_class', 'predicted_label', 'probability', 'probability_true',
              'loss')


class TopLosses:
    """Keeps the ``size`` misclassified examples with the highest loss.

    Args:
      size: examples kept (0 keeps none).
    """

    def __init__(self, size=DEFAULT_SIZE):
        self.size = max(int(size), 0)
        self._heap = []  # (loss, -sequence, example): the smallest loss is on top
        self._seen = 0
        self.misclassified = 0

    def threshold(self):
        """The loss an example must exceed to be kept (-inf while there is room)."""
        return self._heap[0][0] if len(self._heap) >= self.size else -np.inf

    def add(self, *, labels, probabilities, fetch, losses=None):
        """Considers one batch.

        Args:
          labels: int [B] true classes.
          probabilities: float [B, K].
          fetch: ``fetch(indices)`` -> one dict per index with 'input' (the picture or
            model input, kept as it is), 'filename' (str; '' when unknown) and 'record'
            (where it is stored). Called only for the examples that are kept.
          losses: float [B] (default: -log of the label's probability).
        """
        labels = np.asarray(labels, np.int64)
        probabilities = np.asarray(probabilities, np.float64)
        predicted = probabilities.argmax(1)
        p_true = probabilities[np.arange(len(labels)), labels]
        if losses is None:
            losses = -np.log(np.maximum(p_true, 1e-12))
        losses = np.asarray(losses, np.float64)
        wrong = predicted != labels
        self.misclassified += int(wrong.sum())
        order = np.arange(len(labels))
        sequence = self._seen + order
        self._seen += len(labels)
        if not self.size:
            return
        candidates = order[wrong & (losses > self.threshold())]
        candidates = candidates[np.argsort(-losses[candidates], kind='stable')][:self.size]
        if not len(candidates):
            return
        for index, extra in zip(candidates, fetch(candidates.tolist())):
            example = dict(extra, loss=float(losses[index]), label=int(labels[index]),
                           predicted=int(predicted[index]),
                           probability=float(probabilities[index, predicted[index]]),
                           probability_true=float(p_true[index]),
                           position=int(sequence[index]))
            item = (example['loss'], -example['position'], example)
            if len(self._heap) < self.size:
                heapq.heappush(self._heap, item)
            elif item[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, item)

    def examples(self):
        """The kept examples, worst first (ties: the earlier example first)."""
        return [e for _, _, e in sorted(self._heap, key=lambda t: t[:2], reverse=True)]


def display_image(model_input):
    """A preprocessed model input (float [S, S, 3], any affine scaling) as uint8 RGB for
    people: its values stretched to 0-255 (what the model saw, its contrast kept)."""
    if np.asarray(model_input).dtype == np.uint8:
        return np.asarray(model_input)
    x = np.asarray(model_input, np.float32)
    low, high = float(x.min()), float(x.max())
    scaled = (x - low) / (high - low) if high > low else np.zeros_like(x)
    return (scaled * 255 + 0.5).astype(np.uint8)


def undo_preprocessing(model):
    """A function: the model's preprocessed input -> uint8 RGB as the photo looked.

    It is the exact inverse in the model's preprocessing card (the one the batch
    preview uses); a preprocessor registered as a bare function without an inverse is
    stretched with :func:`display_image` instead.
    """
    if not model.preprocessing_card.exact_inverse:
        return display_image

    def undo(model_input):
        return np.asarray(model.to_pixels(np.asarray(model_input, np.float32))[0])
    return undo


def eval_view(model):
    """A function: a decoded photo (uint8 [H, W, 3]) -> uint8 [S, S, 3], the part of it
    the model sees at eval (the preprocessing card's crop and resize), for galleries
    built from photos rather than model inputs (a SavedModel's evaluation)."""
    card, size = model.preprocessing_card, model.image_size
    geometry = getattr(card, 'geometry', None)
    if geometry is None:  # a bare-function preprocessor: its input, stretched
        return lambda photo: display_image(model.preprocess(photo, training=False))

    def view(photo):
        pixels = np.asarray(geometry.apply(photo, size), np.float32)
        return np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return view


def write_csv(examples, class_names, path):
    """Writes the examples (worst first) as CSV; returns ``path``."""
    f = io.StringIO(newline='')
    writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for rank, e in enumerate(examples, 1):
        writer.writerow({
            'rank': rank, 'filename': e.get('filename') or UNKNOWN_NAME,
            'record': e.get('record', ''), 'true_class': e['label'],
            'true_label': class_names[e['label']], 'predicted_class': e['predicted'],
            'predicted_label': class_names[e['predicted']],
            'probability': f"{e['probability']:.6f}",
            'probability_true': f"{e['probability_true']:.6f}",
            'loss': f"{e['loss']:.6f}"})
    return write_atomic(path, f.getvalue())
