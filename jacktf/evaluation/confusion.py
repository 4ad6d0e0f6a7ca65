"""The confusion matrix as a picture: raw counts and row-normalized (recall) side by
side, class names on both axes, a title with what was evaluated and its accuracy. Sized
for 2 to 100+ classes: cells shrink and fonts with them; numbers are written into the
cells up to ANNOTATE_MAX classes."""

import numpy as np

from jacktf.evaluation import figures

ANNOTATE_MAX = 30  # classes up to which each cell shows its number
CMAP = 'Blues'


def normalized(matrix):
    """Rows divided by their sums (recall per true class); a row without examples is 0."""
    matrix = np.asarray(matrix, np.float64)
    sums = matrix.sum(1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def layout(num_classes):
    """(cell size in inches, tick font size in points) for ``num_classes`` classes."""
    cell = float(np.clip(8.0 / max(num_classes, 1), 0.16, 0.7))
    font = float(np.clip(cell * 72 * 0.55, 4.5, 10))
    return cell, font


def title_for(*, accuracy, examples, step=None, source=None):
    """'Confusion matrix - step 600 - top-1 accuracy 0.8750 on 40 examples'."""
    where = f'step {step}' if step is not None else (source or '')
    parts = ['Confusion matrix'] + ([where] if where else []) + \
        [f'top-1 accuracy {accuracy:.4f} on {examples} examples']
    return ' \u2014 '.join(parts)


def picture(matrix, class_names, title):
    """Renders the confusion matrix (rows: true class, columns: predicted class).

    Args:
      matrix: [K, K] counts.
      class_names: K names (long ones are shortened on the axes).
      title: the figure's title (see :func:`title_for`).

    Returns:
      uint8 RGB [H, W, 3].
    """
    return figures.to_array(figure(matrix, class_names, title))


def figure(matrix, class_names, title):
    """The matplotlib Figure of :func:`picture` (counts and recall panels)."""
    matrix = np.asarray(matrix, np.int64)
    k = matrix.shape[0]
    names = [figures.short(n) for n in class_names]
    cell, font = layout(k)
    label_in = min(0.08 * max(len(n) for n in names) * font / 7 + 0.5, 2.5)
    panel = max(k * cell, 2.2)
    width = 2 * (panel + label_in + 0.9) + 0.3
    height = panel + label_in + 1.2
    fig = figures.new_figure(width, height)
    fig.set_layout_engine('constrained')
    axes = fig.subplots(1, 2)
    share = normalized(matrix)
    for ax, values, what, fmt, vmax in (
            (axes[0], matrix, 'counts', '{:d}', max(int(matrix.max()), 1)),
            (axes[1], share, 'row-normalized (recall)', '{:.2f}', 1.0)):
        image = ax.imshow(values, cmap=CMAP, vmin=0, vmax=vmax, interpolation='nearest')
        ax.set_title(what, fontsize=max(10.0, width * 0.3))
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(names, rotation=90, fontsize=font)
        ax.set_yticklabels(names, fontsize=font)
        ax.set_xlabel('predicted class', fontsize=max(9.0, width * 0.25))
        ax.set_ylabel('true class', fontsize=max(9.0, width * 0.25))
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
        bar.ax.tick_params(labelsize=7)
        if k <= ANNOTATE_MAX:
            for i in range(k):
                for j in range(k):
                    value = values[i, j]
                    text = fmt.format(int(value) if fmt == '{:d}' else float(value))
                    dark = value / vmax > 0.55
                    ax.text(j, i, text, ha='center', va='center',
                            fontsize=max(font - 1, 4.5),
                            color='white' if dark else 'black')
    fig.suptitle(title, fontsize=max(11.0, width * 0.45))
    return fig
