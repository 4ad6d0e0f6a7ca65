"""The front door's input size: never more than the images hold.

A data set of small images (scans, icons, thumbnails) is fed at its median shorter
side, rounded up to a multiple of 32 and at least MIN_INPUT, instead of being upscaled
to the backbone card's size (224 for the shipped MobileNet). Images as large as the
card's size keep it.
"""

import numpy as np

# Measured on 1,300 digit scans of 32 px (`jacktf train FOLDER --epochs 5`, batch 32): the
# held-out accuracy was 0.867 at 224 and 0.958 at 128, three times faster
# (docs/guides/front-door.md).
MIN_INPUT = 128


def data_input_size(median_side, card_size):
    """IMAGE_SIZE for images whose median shorter side is ``median_side`` pixels, or
    None (the card's ``card_size``) when they are as large as that or unknown."""
    if not median_side:
        return None
    size = max(MIN_INPUT, -(-int(median_side) // 32) * 32)
    return size if size < card_size else None


def median(sides):
    """The median of the images' shorter sides (pixels), an int (what split.json keeps)."""
    return int(np.median(sides))


def from_split(content, backbone, notes):
    """IMAGE_SIZE from split.json's median shorter side (see data_input_size), with
    the start line's note; None keeps the card's size."""
    from jacktf.app import runtime
    side = content.get('median_shorter_side')
    card_size = runtime.load_plugins().get('backbone', backbone).card.default_image_size
    size = data_input_size(side, card_size)
    if size:
        notes.append(f'input {size}x{size}: the images\' median shorter side is {side} px, '
                     f'so the card\'s {card_size} would only upscale them (--image_size '
                     'sets another)')
    return size
