"""The pictures of an evaluation in TensorBoard (IMAGES tab of the eval run)."""

TAGS = {'confusion_matrix': 'eval/confusion_matrix', 'top_losses': 'eval/top_losses'}


def write_images(writer, images, step):
    """Writes each RGB array of ``images`` ({name: [H, W, 3] uint8}) as an image summary.

    Args:
      writer: a tf.summary writer (e.g. MODEL_DIR/eval's).
      images: from jacktf.evaluation.report.draw.
      step: the training step they belong to.
    """
    import tensorflow as tf
    with writer.as_default(step=int(step)):
        for name, array in images.items():
            tf.summary.image(TAGS.get(name, name), array[None], step=int(step))
    writer.flush()
