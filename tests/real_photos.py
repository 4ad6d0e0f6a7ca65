"""Three classes of real-looking photos from the real fixtures' photos (for local checks).

Each class is one source photo (cat, espresso, parrot); its examples are random crops
(30-80% of the side), flips, scales and small colour shifts, so training and validation
hold different views of the same subject, as photos of one kind of thing do.
"""

import os

import numpy as np
from PIL import Image

SOURCES = {'cat': 'chelsea.png', 'coffee': 'coffee.png', 'parrot': 'parrot.jpg'}


def _view(rng, photo, size):
    w, h = photo.size
    side = int(min(w, h) * rng.uniform(0.3, 0.8))
    x, y = rng.integers(0, w - side + 1), rng.integers(0, h - side + 1)
    view = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
    if rng.uniform() < 0.5:
        view = view.transpose(Image.FLIP_LEFT_RIGHT)
    pixels = np.asarray(view, np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_photo_folders(real_dir, root, per_class=(48, 16), size=160, seed=0):
    """Writes root/train/<class>/*.jpg and root/validation/<class>/*.jpg; returns root."""
    rng = np.random.default_rng(seed)
    for name, source in SOURCES.items():
        photo = Image.open(os.path.join(real_dir, source)).convert('RGB')
        for split, count in zip(('train', 'validation'), per_class):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                _view(rng, photo, size).save(os.path.join(folder, f'{i:03d}.jpg'), quality=90)
    return root
