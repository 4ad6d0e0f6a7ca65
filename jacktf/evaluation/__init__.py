"""Evaluation reports and pictures: metrics, confusion matrix, top losses, CAM overlays,
test-time augmentation.

Each module has one job: ``report`` (metrics and the files of one evaluation),
``confusion`` and ``gallery`` (figures), ``cam`` (class activation maps: computed and
drawn, one renderer for ``jacktf predict --cam_dir`` and the eval gallery),
``top_losses`` (the streaming collector of the worst examples), ``collect`` and
``passes`` (what one eval pass keeps), ``tta`` (test-time augmentation views),
``figures`` (matplotlib without pyplot: figure -> RGB array / PNG),
``summaries`` (the pictures in TensorBoard).
"""
