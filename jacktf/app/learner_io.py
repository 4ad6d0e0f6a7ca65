"""What the Python API (jacktf.app.learner) takes and gives besides runs: options as gin
bindings, images given as files or arrays, and figures that show in Jupyter."""

import io
import os
import re

import numpy as np

from jacktf.core.errors import ConfigError, DataError

_GIN_NAME = re.compile(r'^([A-Za-z_][\w.]*/)*[A-Za-z_][\w.]*$')


def bindings(gin_params=(), options=None):
    """gin binding lines from ``gin_params`` (lines as given) and ``options`` ({gin name:
    value}, e.g. {'periodic_eval.every_steps': 50, 'NUM_CLASSES': 10}).

    A value is written as a Python literal (``repr``), except a string starting with
    ``@`` or ``%`` (a gin reference such as '@momentum'), which is written as is.

    Raises:
      ConfigError: a name that is not a gin name, or gin_params given as one string.
    """
    if isinstance(gin_params, str):
        raise ConfigError(f'gin_params must be a list of bindings, got the string '
                          f'{gin_params!r}: write gin_params=[{gin_params!r}].')
    lines = list(gin_params or ())
    for name, value in (options or {}).items():
        if not _GIN_NAME.match(name):
            raise ConfigError(f'{name!r} is not a gin name: give options as '
                              "'Configurable.parameter' or 'MACRO' (e.g. **{'periodic_"
                              "eval.every_steps': 50}), or bindings in gin_params.")
        text = value if isinstance(value, str) and value[:1] in '@%' else repr(value)
        lines.append(f'{name} = {text}')
    return lines


def as_items(images):
    """The list of images in ``images``: one path or array, a list of them, or a batch
    array [N, H, W, 3]."""
    if isinstance(images, (str, os.PathLike)):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    if _is_pil(images):
        return [images]
    try:
        return list(images)
    except TypeError:
        raise DataError(f'predict takes image files, uint8 arrays [H, W, 3] or a list of '
                        f'them, got {type(images).__name__}.') from None


def encoded(item, index):
    """The bytes the SavedModel's serving signature gets for one item: a file's own
    bytes (as `jacktf predict` sends them), an array or PIL image as a lossless PNG.

    Raises:
      DataError: naming the item (its path or position), the cause and the fix.
    """
    from jacktf.serve import predict
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if os.path.isdir(path):
            raise DataError(f'{path!r} is a folder: predict takes image files or arrays. '
                            'For a labelled folder use evaluate(); for all its images, '
                            'pass the list of their paths.')
        try:
            return predict.read_image(path)[0]
        except predict.UnreadableImage as e:
            raise DataError(f'Cannot predict on {path!r}: {e}. Give JPEG, PNG, GIF, BMP '
                            'or WebP images.') from None
    if _is_pil(item):
        item = np.asarray(item.convert('RGB'))
    if not isinstance(item, np.ndarray):
        raise DataError(f'Image #{index} is a {type(item).__name__}: give a file path, a '
                        'uint8 array [H, W, 3] or a PIL image.')
    return _png(_rgb(item, index))


def _rgb(array, index):
    """``array`` as uint8 [H, W, 3] (grayscale [H, W] or [H, W, 1] repeated)."""
    if array.dtype != np.uint8:
        raise DataError(f'Image #{index} has dtype {array.dtype}: give uint8 pixels 0..255 '
                        '(e.g. np.clip(x * 255, 0, 255).astype(np.uint8) for floats in '
                        '0..1).')
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3 or 0 in array.shape:
        raise DataError(f'Image #{index} has shape {array.shape}: give [H, W, 3] RGB '
                        '(or [H, W] grayscale) uint8 pixels.')
    return array


def _png(array):
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='PNG')
    return buffer.getvalue()


def _is_pil(item):
    return type(item).__module__.startswith('PIL.')


def shown(figure):
    """``figure``, made to show inline when it is a cell's value in Jupyter: jacktf draws
    without pyplot (no global figures), so IPython is told how to render a Figure."""
    import sys
    get_ipython = getattr(sys.modules.get('IPython'), 'get_ipython', None)
    shell = get_ipython() if get_ipython else None
    if shell is not None:
        from IPython.core.pylabtools import print_figure
        from matplotlib.figure import Figure
        formatter = shell.display_formatter.formatters['image/png']
        formatter.for_type(Figure, lambda fig: print_figure(fig, 'png'))
    return figure
