"""matplotlib without pyplot (no global state, no display): figures -> RGB arrays/PNGs."""


import numpy as np

from jacktf.core.files import write_atomic


def new_figure(width_in, height_in, dpi=100):
    """A matplotlib Figure of ``width_in`` x ``height_in`` inches on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def to_array(figure):
    """The rendered figure as uint8 RGB [H, W, 3]."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def save_png(array, path):
    """Writes uint8 RGB ``array`` as a PNG (atomically: never a half-written file)."""
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='PNG')
    return write_atomic(path, buffer.getvalue())


def short(name, limit=24):
    """``name`` cut to ``limit`` characters, its middle replaced by an ellipsis (names
    of a data set often share a prefix or a suffix: both ends stay)."""
    name = str(name)
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2 + (limit - 1) % 2
    return name[:head] + '\u2026' + name[len(name) - (limit - 1 - head):]
