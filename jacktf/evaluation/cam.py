"""Class activation maps: computed (Grad-CAM at the backbone card's ``cam_endpoint``)
and drawn. ``jacktf predict --cam_dir`` and the eval's top-losses gallery both draw with
:func:`draw_overlay`, so a map reads the same everywhere: the photo in full colour, the
map's hot regions tinted over it (cold regions stay clear), the class and probability on
the picture, and a colour scale of the relative activation.
"""

import numpy as np

from jacktf.evaluation import figures

CMAP = 'jet'
MAX_ALPHA = 0.6  # the tint at the hottest point; 0 where the map is 0
SCALE_LABEL = 'CAM: relative activation'


def grad_cam(model, images):
    """Grad-CAM of the predicted class for preprocessed ``images`` [N, S, S, 3].

    The same computation as the SavedModel's ``explain_images`` signature.

    Args:
      model: a built jacktf Model.
      images: float32 [N, S, S, 3] as the model's preprocessing makes them.

    Returns:
      float32 numpy [N, h, w] (h, w: the endpoint's grid), or None when the backbone
      card names no ``cam_endpoint``.
    """
    endpoint = model.card.cam_endpoint
    if not endpoint:
        from jacktf.core.card import skipped
        skipped(model.card, 'cam_endpoint', 'Class activation maps (gallery, top losses)')
        return None
    import tensorflow as tf
    return explain(lambda x: model.predict(x, training=False), endpoint,
                   tf.convert_to_tensor(images))[1].numpy()


def explain(predict, endpoint, images):
    """(logits, cam) for ``images`` with ``predict(images) -> dict(logits, end_points)``.

    The map is ReLU(sum_c w_c A_c), A the endpoint's activations and w_c the mean
    gradient of the top class's logit over A_c (Grad-CAM).
    """
    import tensorflow as tf
    with tf.GradientTape() as tape:
        out = predict(images)
        features = out['end_points'][endpoint]
        logits = tf.cast(out['logits'], tf.float32)
        top = tf.argmax(logits, -1, output_type=tf.int32)
        score = tf.reduce_sum(tf.gather(logits, top, batch_dims=1))
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(tf.cast(weights * features, tf.float32), axis=-1))
    return logits, cam


def normalized(cam):
    """``cam`` scaled to [0, 1] (min -> 0, max -> 1; a flat map is all 0)."""
    cam = np.asarray(cam, np.float32)
    span = float(cam.max() - cam.min()) if cam.size else 0.0
    return (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)


def upsampled(cam, height, width):
    """The CAM resized (bilinear) to ``height`` x ``width``, values kept."""
    from PIL import Image
    image = Image.fromarray(np.asarray(cam, np.float32), mode='F')
    return np.asarray(image.resize((width, height), Image.BILINEAR))


def overlay_rgba(cam, height, width):
    """The tint drawn over a photo: RGBA float [H, W, 4] of the colour map, its alpha
    rising with the (normalized) map from 0 to MAX_ALPHA."""
    from matplotlib import colormaps
    heat = np.clip(upsampled(normalized(cam), height, width), 0, 1)
    rgba = colormaps[CMAP](heat)
    rgba[..., 3] = MAX_ALPHA * heat
    return rgba


def draw_overlay(ax, image, cam, caption=None, fontsize=9):
    """Draws ``image`` (uint8 [H, W, 3]) with ``cam`` tinted over it on axes ``ax``.

    Args:
      ax: matplotlib axes.
      image: uint8 [H, W, 3].
      cam: [h, w] map (any scale), or None for the photo alone.
      caption: text drawn on the picture (top left, white on a dark box), e.g. the
        class name and probability.
      fontsize: of the caption.

    Returns:
      A ScalarMappable for a colour scale of the map (0..1).
    """
    import matplotlib.cm
    import matplotlib.colors
    ax.imshow(image, interpolation='bilinear' if max(image.shape[:2]) > 64 else 'nearest')
    if cam is not None:
        ax.imshow(overlay_rgba(cam, image.shape[0], image.shape[1]),
                  interpolation='bilinear')
    if caption:
        ax.text(0.02, 0.98, caption, transform=ax.transAxes, va='top', ha='left',
                color='white', fontsize=fontsize,
                bbox={'facecolor': 'black', 'alpha': 0.65, 'pad': 2, 'edgecolor': 'none'})
    ax.set_xticks([])
    ax.set_yticks([])
    return matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=CMAP)


def add_scale(figure, mappable, cax):
    """Draws the colour scale of the maps into axes ``cax``."""
    bar = figure.colorbar(mappable, cax=cax)
    bar.set_label(SCALE_LABEL, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


BAR_PX, PAD_PX = 90, 8


def picture_layout(height, width, min_side=256, max_side=768):
    """(photo width, photo height, picture width, picture height) in pixels of the
    picture :func:`overlay_picture` draws for a ``height`` x ``width`` photo."""
    zoom = min(max(min_side / max(height, width), 1.0), max_side / max(height, width))
    w_px, h_px = round(width * zoom), round(height * zoom)
    return w_px, h_px, w_px + BAR_PX + 2 * PAD_PX, h_px + 2 * PAD_PX


def overlay_picture(image, cam, caption, min_side=256, max_side=768):
    """One picture for ``jacktf predict --cam_dir``: the photo with its map, the caption
    on it and a colour scale beside it.

    The photo is drawn with its longer side between ``min_side`` and ``max_side`` pixels
    (small images are enlarged so the caption stays readable).

    Returns:
      uint8 RGB [H, W, 3].
    """
    w_px, h_px, fig_w, fig_h = picture_layout(*image.shape[:2], min_side, max_side)
    pad = PAD_PX
    figure = figures.new_figure(fig_w / 100, fig_h / 100)
    ax = figure.add_axes([pad / fig_w, pad / fig_h, w_px / fig_w, h_px / fig_h])
    mappable = draw_overlay(ax, image, cam, caption, fontsize=10)
    cax = figure.add_axes([(pad + w_px + 12) / fig_w, pad / fig_h + 0.05, 14 / fig_w,
                           h_px / fig_h - 0.1])
    add_scale(figure, mappable, cax)
    return figures.to_array(figure)
