"""Which perceptual hash and distance threshold find near-duplicate photos (JSON out).

Distinct photos: the real photos bundled with scikit-image and scikit-learn and the two
coral photos of /work/shared/fixtures/real (skipped when absent), each whole and as its
four quadrants (distinct views of one scene: a hard case), plus the 200 LFW-subset
patches of scikit-image (25x25 faces and non-faces, all alike: the hardest case for
false pairs). Planted copies, made from every whole photo and quadrant: resized to 50%
and 25%, re-saved as JPEG at quality 30, 50, 75 and 95, cropped by up to 5% (random
edges), and all three at once (3% crop, 50% size, JPEG 50).

For each hash (imagehash's phash/dhash/ahash/whash, 64 and 256 bits) it reports the
share of planted pairs within each Hamming distance (found) and the share of distinct
photo pairs within it (false), then checks the chosen default (with its confirm hash)
end to end through ``near_duplicates.find_groups`` (groups are transitive; thresholds
capped by the data's own spread, and without that cap), checks the same on 1,797 digit
scans (images of one kind, where fixed thresholds link distinct scans), and times the
pairwise search on 10,000 hashes. ``pip install .[bench]``; run ``python bench/near_duplicates.py``.
"""

import io
import itertools
import os
import sys
import time

import numpy as np
from PIL import Image

from common import emit  # noqa: E402  (puts the repository on sys.path)
from jacktf.data import near_duplicates as nd  # noqa: E402

REAL = '/work/shared/fixtures/real'
SKIMAGE = ('astronaut', 'camera', 'chelsea', 'coffee', 'coins', 'clock', 'hubble_deep_field',
           'immunohistochemistry', 'moon', 'page', 'rocket', 'retina', 'motorcycle_left',
           'brick', 'grass', 'gravel', 'cell', 'horse')
CANDIDATES = [('phash', 8), ('dhash', 8), ('ahash', 8), ('whash', 8), ('phash', 16),
              ('dhash', 16)]


def photos():
    import skimage.data
    from sklearn.datasets import load_sample_images
    out = []
    for name in SKIMAGE:
        try:
            out.append((name, getattr(skimage.data, name)()))
        except Exception:  # noqa: BLE001  (a data file this install lacks)
            continue
    out += [(f'sklearn_{i}', a) for i, a in enumerate(load_sample_images().images)]
    for name in ('parrot.jpg', 'hot_dog.jpg'):
        if os.path.exists(os.path.join(REAL, name)):
            out.append((name, np.asarray(Image.open(os.path.join(REAL, name)).convert('RGB'))))
    return [(n, Image.fromarray(np.asarray(a, np.uint8)).convert('RGB')) for n, a in out]


def quadrants(name, image):
    w, h = image.size
    return [(f'{name}/q{k}', image.crop((x, y, x + w // 2, y + h // 2)))
            for k, (x, y) in enumerate([(0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)])]


def jpeg(image, quality):
    out = io.BytesIO()
    image.save(out, format='JPEG', quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert('RGB')


def crop(image, rng, share):
    w, h = image.size
    cw, ch = int(w * share * rng.uniform(0.5, 1)), int(h * share * rng.uniform(0.5, 1))
    left, top = int(rng.integers(0, cw + 1)), int(rng.integers(0, ch + 1))
    return image.crop((left, top, w - (cw - left), h - (ch - top)))


def resized(image, factor):
    w, h = image.size
    return image.resize((max(8, int(w * factor)), max(8, int(h * factor))), Image.BILINEAR)


def variants(image, rng):
    return {'resize_50': resized(image, 0.5), 'resize_25': resized(image, 0.25),
            'jpeg_30': jpeg(image, 30), 'jpeg_50': jpeg(image, 50), 'jpeg_75': jpeg(image, 75),
            'jpeg_95': jpeg(image, 95), 'crop_5': crop(image, rng, 0.05),
            'crop_resize_jpeg': jpeg(resized(crop(image, rng, 0.03), 0.5), 50)}


def build(seed=0):
    import skimage.data
    rng = np.random.default_rng(seed)
    base = []
    for name, image in photos():
        base += [(name, image)] + quadrants(name, image)
    faces = [(f'lfw/{i}', Image.fromarray((a * 255).astype(np.uint8)).convert('RGB'))
             for i, a in enumerate(skimage.data.lfw_subset())]
    distinct = base + faces
    planted = []  # (index of the original in distinct, kind, image)
    for i, (_, image) in enumerate(base):
        for kind, copy in variants(image, rng).items():
            planted.append((i, kind, copy))
    return distinct, planted


def hamming(a, b):
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(-1)


def sweep(distinct, planted, method, size):
    hashes = nd.hash_images([im for _, im in distinct], method=method, hash_size=size,
                            confirm=None)
    copies = nd.hash_images([im for _, _, im in planted], method=method, hash_size=size,
                            confirm=None)
    originals = np.array([i for i, _, _ in planted])
    planted_d = hamming(hashes[originals], copies)
    ii, jj = np.triu_indices(len(hashes), 1)
    distinct_d = hamming(hashes[ii], hashes[jj])
    rows = []
    for t in range(0, size * size // 2 + 1):
        rows.append({'max_distance': t, 'found': float((planted_d <= t).mean()),
                     'false': float((distinct_d <= t).mean())})
    kinds = sorted({k for _, k, _ in planted})
    return rows, hashes, copies, planted_d, kinds


def best(rows):
    """The threshold with the fewest false pairs among those finding >= 90%, and the one
    finding the most at <= 1% false pairs."""
    ok = [r for r in rows if r['found'] >= 0.9]
    cheapest = min(ok, key=lambda r: (r['false'], -r['found'])) if ok else None
    within = [r for r in rows if r['false'] <= 0.01]
    most = max(within, key=lambda r: (r['found'], -r['false'])) if within else None
    return cheapest, most


def end_to_end(distinct, planted, max_distance, relative=True):
    """find_groups (with its confirm hash) over the distinct photos and the copies."""
    hashes = nd.hash_images([im for _, im in distinct])
    all_hashes = np.concatenate([hashes, nd.hash_images([im for _, _, im in planted])])
    n = len(distinct)
    labels = list(range(n)) + [i for i, _, _ in planted]
    report = nd.find_groups(all_hashes, labels, max_distance=max_distance,
                            relative=relative)
    ids = nd.group_ids(report)
    found = np.array([ids[i] == ids[n + k] for k, (i, _, _) in enumerate(planted)])
    by_kind = {}
    for ok, (_, kind, _) in zip(found, planted):
        by_kind.setdefault(kind, []).append(ok)
    same = ids[:n, None] == ids[None, :n]
    false_pairs = int((np.triu(same, 1)).sum())
    total = n * (n - 1) // 2
    return {'relative': relative, 'max_distance': report.max_distance,
            'confirm': nd.CONFIRM_METHOD, 'confirm_distance': report.confirm_distance,
            'planted_pairs': len(planted),
            'found': float(found.mean()),
            'found_by_kind': {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
            'distinct_images': n, 'distinct_pairs': total, 'false_pairs': false_pairs,
            'false_share': false_pairs / total}


def digit_scans(relative):
    """find_groups over scikit-learn's 1,797 digit scans (8x8 -> 32x32, dark on light):
    distinct images of one kind and layout, where any pair across digits is false."""
    from sklearn.datasets import load_digits
    data = load_digits()
    images = [Image.fromarray(255 - np.asarray(Image.fromarray(
        (x * 255 / 16).astype(np.uint8)).resize((32, 32), Image.BILINEAR)))
        for x in data.images]
    report = nd.find_groups(nd.hash_images(images), list(data.target), relative=relative)
    across = sum(1 for i, j, _ in report.pairs if data.target[i] != data.target[j])
    return {'relative': relative, 'images': len(images), 'max_distance': report.max_distance,
            'confirm_distance': report.confirm_distance, 'linked_pairs': len(report.pairs),
            'pairs_across_digits': across, 'conflict_groups': len(report.conflicts),
            'largest_group': max((len(g) for g in report.groups), default=0)}


def speed(n=10_000):
    width = nd.DEFAULT_HASH_SIZE ** 2 // 4  # the hash and its confirm hash
    hashes = np.random.default_rng(0).integers(0, 256, [n, width], dtype=np.uint8)
    start = time.perf_counter()
    nd.near_pairs(hashes, nd.DEFAULT_MAX_DISTANCE, nd.CONFIRM_MAX_DISTANCE)
    return {'images': n, 'seconds': round(time.perf_counter() - start, 3)}


def hash_rate(distinct):
    images = [im for _, im in distinct[:40]]
    start = time.perf_counter()
    nd.hash_images(images)
    return round(len(images) / (time.perf_counter() - start), 1)


def main():
    distinct, planted = build()
    result = {'distinct_images': len(distinct), 'planted_pairs': len(planted),
              'candidates': {}}
    for method, size in CANDIDATES:
        rows, hashes, copies, planted_d, kinds = sweep(distinct, planted, method, size)
        cheapest, most = best(rows)
        result['candidates'][f'{method}_{size * size}bit'] = {
            'fewest_false_at_90_found': cheapest, 'most_found_at_1pct_false': most,
            'sweep': [r for r in rows if r["max_distance"] <= size * size * 3 // 8]}
        if (method, size) == (nd.DEFAULT_METHOD, nd.DEFAULT_HASH_SIZE):
            result['default'] = {'method': method, 'hash_size': size, **end_to_end(
                distinct, planted, nd.DEFAULT_MAX_DISTANCE)}
            result['fixed_thresholds'] = end_to_end(distinct, planted,
                                                    nd.DEFAULT_MAX_DISTANCE, relative=False)
    result['digit_scans'] = {'relative': digit_scans(True), 'fixed': digit_scans(False)}
    result['pairwise_search'] = speed()
    result['hash_images_per_second'] = hash_rate(distinct)
    emit(result)
    if len(sys.argv) > 1:
        import json
        with open(sys.argv[1], 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
