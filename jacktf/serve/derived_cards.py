"""The card of a derived model (TFLite or ONNX): the client steps of the export's
preprocessing, the input and output tensors (with the quantization steps of an int8
model), the multi-label and "unknown" rules, and what the standard TFLite metadata
says. jacktf.serve.derived_models converts, verifies and writes the models."""

from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import client_preprocessing, model_card
from jacktf.serve import export


def client_section(model, registry):
    """The card's client steps (``client_preprocessing``), with the EXIF step every path
    into jacktf applies first (``image_check.exif_upright``)."""
    section = dict(client_preprocessing.section(model, registry))
    section['orientation'] = ('before decoding: apply the EXIF orientation tag, so the '
                              'photo is upright as a viewer shows it (Android: '
                              'ExifInterface; iOS: UIImage.imageOrientation; web: '
                              "createImageBitmap(..., {imageOrientation: 'from-image'}))")
    return section


def base_card(kind, variant, file, *, model, class_names, registry, source, unknown):
    card = {'format': model_card.CARD_FORMAT, 'model_format': kind, 'variant': variant,
            'file': file, 'labels_file': model_card.LABELS_FILE,
            'num_classes': len(class_names),
            'source': dict(source, backbone=model.backbone_name, head=model.head_name),
            'preprocessing': client_section(model, registry)}
    thresholds = export.label_thresholds(model)
    if thresholds is not None:  # multi-label: a sigmoid per label, a label set per image
        card['multi_label'] = {
            'activation': 'sigmoid', 'thresholds': thresholds,
            'rule': 'label k is predicted when probabilities[k] >= thresholds[k] '
                    '(thresholds tuned on the validation split)'}
    if unknown and thresholds is None:  # probabilities out: the app applies the threshold
        card['unknown'] = unknown_lib.probability_rule(unknown)
    return card


def with_quantization_steps(card):
    inp, out = card['input'], card['output']
    if 'quantization' in inp:
        q = inp['quantization']
        card['preprocessing']['quantize_input'] = model_card.quantize_step(
            q['scale'], q['zero_point'], inp['dtype'])
    if 'quantization' in out:
        q = out['quantization']
        card['output']['dequantize'] = model_card.dequantize_step(q['scale'],
                                                                  q['zero_point'])
    return card


def io_sections(interp):
    import numpy as np
    sections = []
    for detail in (interp.get_input_details()[0], interp.get_output_details()[0]):
        dtype = np.dtype(detail['dtype'])
        quantized = np.issubdtype(dtype, np.integer)
        sections.append(model_card.tensor_section(
            'images' if not sections else 'probabilities', detail['shape'], dtype.name,
            detail['quantization'] if quantized else None,
            batch_dynamic=int(detail['shape_signature'][0]) == -1))
    return sections


def metadata_info(card, model):
    """What the standard TFLite metadata says about the model of ``card``."""
    prep, source = card['preprocessing'], card['source']
    return {
        'name': f'{model.backbone_name} {card["variant"]} ({card["num_classes"]} classes)',
        'description': (f'Image classifier fine-tuned with jacktf from {model.backbone_name}'
                        f' ({prep["name"]} preprocessing, {prep["image_size"]}x'
                        f'{prep["image_size"]} input); {card["variant"]} TFLite. The '
                        f'jacktf card {model_card.card_path(card["file"])} beside it has '
                        'the exact client steps.' + multilabel_note(card) + (
                            ' ' + unknown_lib.describe(card['unknown'])
                            if 'unknown' in card else '')),
        'version': str(source.get('step', '')),
        'author': f'jacktf {jacktf_version()}',
        'license': 'Apache-2.0 (TF-Slim ImageNet weights); the fine-tuning data are '
                   'under their own terms',
        'labels_file': model_card.LABELS_FILE, 'pixels': prep.get('input') == 'pixels',
        'float_input': card['input']['dtype'] == 'float32',
        'client_steps': prep.get('client_steps', ''), 'preprocessing': prep['name']}


def multilabel_note(card):
    """The multi-label rule and thresholds, for the TFLite metadata's description."""
    section = card.get('multi_label')
    if not section:
        return ''
    pairs = ', '.join(f'{t:.4f}' for t in section['thresholds'])
    return (' Multi-label: the outputs are sigmoid probabilities per label; label k is '
            f'predicted when probability k >= threshold k, thresholds [{pairs}] in '
            'labels.txt order.')


def jacktf_version():
    from importlib import metadata
    try:
        return metadata.version('jacktf')
    except metadata.PackageNotFoundError:
        return 'dev'
