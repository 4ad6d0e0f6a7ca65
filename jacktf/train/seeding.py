"""The run's seed: every run is repeatable unless the user asks otherwise.

``Experiment.seed`` (default 0; ``--seed N`` on the command line) seeds the data order,
the augmentation (each element's stateless seed derives from it), the new head's
initialization and the dropout masks, so the same command twice gives the same numbers
up to float noise (multi-threaded CPU kernels may sum in another order). ``--seed none``
(``Experiment.seed = None``) draws a fresh seed for each run.
``Experiment.deterministic = True`` goes further: deterministic ops and a resumable
input position, bit for bit.
"""

import argparse

DEFAULT_SEED = 0


def parse_seed(text):
    """``--seed`` as given: a whole number >= 0, or 'none' (None: unseeded).

    Raises:
      argparse.ArgumentTypeError: anything else (argparse exits with code 2).
    """
    if str(text).strip().lower() in ('none', 'random'):
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f'--seed must be a whole number >= 0, or none for an unseeded run; got {text!r}.')
    return value


def seed_binding(seed):
    """The gin binding that sets the run's seed (None: unseeded)."""
    return f'Experiment.seed = {seed!r}'


def describe(seed, drawn):
    """The start line's words for the seed (``drawn``: the seed an unseeded run drew)."""
    if seed is None:
        return f'unseeded (drew {drawn}; --seed N repeats a run)'
    return f'seed {seed}'
