"""The data sets of bench/quality.py, built from real images available offline.

Each builder writes ROOT/<name>/{train,test}/<class>/<i>.png (an image folder jacktf
reads directly) and returns {'classes', 'train', 'test', 'source'}. Nothing downloads:
- digits: scikit-learn's bundled handwritten digit scans (load_digits, 8x8, 10 classes),
  upscaled to 32x32, dark ink on light paper, grayscale: small centred objects
  (200 training, 150 test images; digits_full: all 1,797, 1,300 for training).
- textures: scikit-image's bundled photos of brick, grass and gravel (512x512), cut
  into crops of 96-192 pixels; training crops from the top 60% of each photo, test
  crops from the bottom 40% (no overlap).
- faces: scikit-image's bundled LFW subset (25x25 grayscale, 100 faces, 100 non-faces).
- photos: which of six real photos (/work/shared/fixtures/real and scikit-image's
  astronaut and rocket) a random crop (25-60% of the photo's area, jittered colour) comes
  from: a recognition task on real photos.
- demo: jacktf's demo renders (stripes vs dots), a 300-image subset.
bench/quality.py runs digits, faces and textures by default (the machine's budget).
"""

import os

import numpy as np
from PIL import Image

REAL = '/work/shared/fixtures/real'


def _save(root, name, split, classes, images, labels):
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = os.path.join(root, name, split, classes[label])
        os.makedirs(folder, exist_ok=True)
        array = np.asarray(image, np.uint8)
        Image.fromarray(array).convert('RGB').save(os.path.join(folder, f'{i:05d}.png'))


def _write(root, name, classes, train, test, source):
    for split, (images, labels) in (('train', train), ('test', test)):
        _save(root, name, split, classes, images, labels)
    return {'classes': len(classes), 'train': len(train[1]), 'test': len(test[1]),
            'source': source}


def digits(root, n_train=200, n_test=150, seed=0, name='digits'):
    from sklearn.datasets import load_digits
    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    images = [255 - np.asarray(Image.fromarray((x * 255 / 16).astype(np.uint8)).resize(
        (32, 32), Image.BILINEAR)) for x in data.images[order]]
    labels = data.target[order]
    n = n_train + n_test
    return _write(root, name, [str(d) for d in range(10)],
                  (images[:n_train], labels[:n_train]), (images[n_train:n], labels[n_train:n]),
                  'scikit-learn load_digits (UCI handwritten digit scans), 8x8 -> 32x32')


def _crops(rng, photo, count, rows, sizes):
    out = []
    for _ in range(count):
        side = int(rng.integers(*sizes))
        top = int(rng.integers(rows[0], max(rows[0] + 1, rows[1] - side)))
        left = int(rng.integers(0, photo.shape[1] - side))
        out.append(np.asarray(Image.fromarray(photo[top:top + side, left:left + side]).resize(
            (96, 96), Image.BILINEAR)))
    return out


def textures(root, per_class_train=32, per_class_test=20, seed=0):
    import skimage.data
    rng = np.random.default_rng(seed)
    classes = ['brick', 'grass', 'gravel']
    train, test = ([], []), ([], [])
    for k, name in enumerate(classes):
        photo = getattr(skimage.data, name)()
        h = photo.shape[0]
        for (images, labels), count, rows in ((train, per_class_train, (0, int(h * 0.6))),
                                              (test, per_class_test, (int(h * 0.6), h))):
            crops = _crops(rng, photo, count, rows, (96, 192) if rows[0] == 0 else (96, 180))
            images.extend(crops)
            labels.extend([k] * count)
    return _write(root, 'textures', classes, (train[0], np.array(train[1])),
                  (test[0], np.array(test[1])),
                  'scikit-image brick/grass/gravel photos; train crops from the top 60%, '
                  'test crops from the bottom 40%')


def faces(root, n_train=140, seed=0):
    import skimage.data
    images = skimage.data.lfw_subset()  # [200, 25, 25] floats, faces first
    labels = np.array([0] * 100 + [1] * 100)
    order = np.random.default_rng(seed).permutation(200)
    images = [(images[i] * 255).astype(np.uint8) for i in order]
    labels = labels[order]
    return _write(root, 'faces', ['face', 'not_face'], (images[:n_train], labels[:n_train]),
                  (images[n_train:], labels[n_train:]),
                  'scikit-image LFW subset: 100 faces, 100 non-faces, 25x25 grayscale')


def _photo(path):
    return np.asarray(Image.open(path).convert('RGB'))


def photos(root, per_class_train=12, per_class_test=10, seed=0):
    import skimage.data
    rng = np.random.default_rng(seed)
    sources = {'cat': _photo(os.path.join(REAL, 'chelsea.png')),
               'coffee': _photo(os.path.join(REAL, 'coffee.png')),
               'parrot': _photo(os.path.join(REAL, 'parrot.jpg')),
               'hot_dog': _photo(os.path.join(REAL, 'hot_dog.jpg')),
               'astronaut': skimage.data.astronaut(), 'rocket': skimage.data.rocket()}
    classes = sorted(sources)
    train, test = ([], []), ([], [])
    for k, name in enumerate(classes):
        photo = sources[name]
        h, w = photo.shape[:2]
        for (images, labels), count in ((train, per_class_train), (test, per_class_test)):
            for _ in range(count):
                area = rng.uniform(0.25, 0.6) * h * w
                ch = int(min(h, np.sqrt(area * rng.uniform(0.75, 1.33))))
                cw = int(min(w, area / ch))
                top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
                crop = photo[top:top + ch, left:left + cw].astype(np.float32)
                crop = np.clip(crop * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255)
                images.append(np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(
                    (128, 128), Image.BILINEAR)))
                labels.append(k)
    return _write(root, 'photos', classes, (train[0], np.array(train[1])),
                  (test[0], np.array(test[1])),
                  'random crops of 6 real photos (fixtures/real + scikit-image)')


def demo(root, n_train=300, n_test=150, seed=0):
    from jacktf.data import demo as demo_lib
    rng = np.random.default_rng(seed)
    out = []
    for count in (n_train, n_test):
        labels = np.arange(count) % 2
        rng.shuffle(labels)
        out.append(([demo_lib.render(rng, 64, int(l)) for l in labels], labels))
    return _write(root, 'demo', list(demo_lib.CLASSES), out[0], out[1],
                  'jacktf demo renders (stripes vs dots), 64x64')


def digits_full(root, seed=0):
    """All of load_digits: 1,300 training and 497 test scans (the size of the issue's)."""
    return digits(root, n_train=1300, n_test=497, seed=seed, name='digits_full')


BUILDERS = {'digits': digits, 'digits_full': digits_full, 'textures': textures, 'faces': faces, 'photos': photos,
            'demo': demo}
