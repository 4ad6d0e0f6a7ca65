"""The top-losses gallery: for each of the most confidently wrong examples its picture
with the true and the predicted class, the probability and the loss, and beside it the
class activation map of the (wrong) prediction (drawn by jacktf.evaluation.cam)."""

import os

from jacktf.evaluation import cam as cam_lib
from jacktf.evaluation import figures

PER_ROW = 3  # examples per row (each: picture + CAM overlay)
PANEL_IN = 2.3


def title_for(*, shown, misclassified, examples, step=None, source=None):
    where = f'step {step}' if step is not None else (source or '')
    where = ' \u2014 ' + where if where else ''
    if not shown:
        return f'Top losses{where}: no misclassified example of {examples}'
    return (f'Top losses{where}: the {shown} most '
            f'confidently wrong of {misclassified} misclassified '
            f'(of {examples} examples)')


def picture(examples, class_names, title):
    """Renders the gallery.

    Args:
      examples: dicts from TopLosses.examples() with 'image' (uint8 [H, W, 3]) and 'cam'
        ([h, w] or None) added.
      class_names: names by class index.
      title: the figure's title (see :func:`title_for`).

    Returns:
      uint8 RGB [H, W, 3].
    """
    return figures.to_array(figure(examples, class_names, title))


def figure(examples, class_names, title):
    """The matplotlib Figure of :func:`picture`."""
    if not examples:
        fig = figures.new_figure(7, 1.2)
        fig.text(0.5, 0.6, title, ha='center', va='center', fontsize=10)
        fig.text(0.5, 0.25, 'Every example was classified correctly: nothing to '
                 'show.', ha='center', va='center', fontsize=10)
        return fig
    per_row = min(PER_ROW, len(examples))
    rows = -(-len(examples) // per_row)
    has_cam = any(e.get('cam') is not None for e in examples)
    cols = per_row * (2 if has_cam else 1)
    bar_in = 1.0 if has_cam else 0
    width, height = cols * PANEL_IN + bar_in + 0.2, rows * (PANEL_IN + 0.6) + 0.7
    fig = figures.new_figure(width, height)
    top = 1 - 0.55 / height
    grid = fig.add_gridspec(rows, cols, left=0.1 / width,
                            right=(width - bar_in - 0.1) / width, bottom=0.3 / height,
                            top=top, wspace=0.06, hspace=0.32)
    mappable = None
    for n, example in enumerate(examples):
        row, col = divmod(n, per_row)
        col *= 2 if has_cam else 1
        true_name = figures.short(class_names[example['label']], 18)
        pred_name = figures.short(class_names[example['predicted']], 18)
        ax = fig.add_subplot(grid[row, col])
        prediction = f"pred: {pred_name} {example['probability']:.2f}"
        caption = f'#{n + 1} true: {true_name}' + ('' if has_cam else '\n' + prediction)
        cam_lib.draw_overlay(ax, example['image'], None, caption, fontsize=7)
        name = example.get('filename') or example.get('record') or ''
        ax.set_title(figures.short(os.path.basename(name) or name, 30), fontsize=7)
        ax.set_xlabel(f"loss {example['loss']:.2f}  p(true) "
                      f"{example['probability_true']:.2f}", fontsize=7)
        if has_cam:
            ax = fig.add_subplot(grid[row, col + 1])
            mappable = cam_lib.draw_overlay(ax, example['image'], example.get('cam'),
                                            prediction, fontsize=7)
            ax.set_title('CAM of the prediction', fontsize=7)
    if mappable is not None:
        cax = fig.add_axes([(width - bar_in + 0.15) / width, 0.15, 0.15 / width, 0.7])
        cam_lib.add_scale(fig, mappable, cax)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va='top')
    return fig
