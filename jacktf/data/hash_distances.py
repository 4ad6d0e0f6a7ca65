"""Hamming distances between perceptual hashes, and the thresholds that fit the data.

``near_pairs`` finds every pair within a distance (XOR + popcount over 64-bit words, in
chunks); ``data_thresholds`` caps the photo thresholds of jacktf.data.near_duplicates at
a share of a data set's own spread. jacktf.data.near_duplicates re-exports both.
"""

import numpy as np

# The photo thresholds (see jacktf.data.near_duplicates for how they were chosen).
DEFAULT_MAX_DISTANCE = 64
CONFIRM_MAX_DISTANCE = 80
_CHUNK = 2048  # rows of the pairwise distance matrix computed at once

# Those thresholds suit photos, whose distinct pairs lie 85-130 bits apart. Images of one
# kind and layout (digit scans, documents, product shots on white) lie much closer: half
# of load_digits' distinct scans have a neighbour within 54 bits, and with 64/80 bits
# 331 pairs of different digits were linked. So each threshold is also capped at a share
# of the data's own spread: RELATIVE_SHARE (CONFIRM_RELATIVE_SHARE) of the
# TYPICAL_PERCENTILE-th percentile of its pairwise distances (a sample of SAMPLE images).
# Measured on load_digits (1,797 scans): 41/23 bits, 83 pairs left, none across digits;
# on the photo bench: 55/53 bits, 95.5% of the planted copies found, no false pair
# (bench/near_duplicates.py, 'relative'). Never below FLOOR bits (resized and re-saved
# copies lie within 15), and only from MIN_RELATIVE images on (a percentile of a few
# pairs could be a copy's distance).
RELATIVE_SHARE = 0.5
CONFIRM_RELATIVE_SHARE = 0.7
TYPICAL_PERCENTILE = 2
SAMPLE = 2000
FLOOR = 20
MIN_RELATIVE = 50


def _distances(block, rest):
    dist = np.zeros([len(block), len(rest)], np.uint16)
    for w in range(block.shape[1]):
        dist += np.bitwise_count(block[:, w, None] ^ rest[None, :, w])
    return dist


def near_pairs(hashes, max_distance=DEFAULT_MAX_DISTANCE, confirm_distance=None):
    """[(i, j, distance)] with i < j for every pair within ``max_distance`` bits (of the
    first half of each hash, with ``confirm_distance``: and within that many bits of
    the second half, the confirm hash).

    The pairwise comparison runs in chunks (XOR + popcount over 64-bit words): 2.5 s
    for 10,000 images of 256-bit hashes on an idle core (bench/near_duplicates.py).
    """
    hashes = np.asarray(hashes, np.uint8)
    n, width = hashes.shape
    pad = (-width) % 8
    if confirm_distance is not None and width % 16:
        raise ValueError(f'hashes of {width} bytes hold no confirm hash: make them with '
                         'hash_images(..., confirm=...) or pass confirm_distance=None')
    words = np.pad(hashes, ((0, 0), (0, pad))).view(np.uint64)
    half = words.shape[1] // 2 if confirm_distance is not None else words.shape[1]
    pairs = []
    for start in range(0, n, _CHUNK):
        block = words[start:start + _CHUNK]
        for other in range(start, n, 4 * _CHUNK):
            rest = words[other:other + 4 * _CHUNK]
            dist = _distances(block[:, :half], rest[:, :half])
            near = dist <= max_distance
            if confirm_distance is not None and near.any():
                near &= _distances(block[:, half:], rest[:, half:]) <= confirm_distance
            ii, jj = np.nonzero(near)
            for i, j in zip(ii, jj):
                if start + i < other + j:
                    pairs.append((int(start + i), int(other + j), int(dist[i, j])))
    return pairs


def pair_distance_percentile(hashes, percentile=TYPICAL_PERCENTILE, *, sample=SAMPLE,
                             halves=2, seed=0):
    """The ``percentile``-th percentile of the Hamming distances between the rows of
    ``hashes`` (uint8 [N, bytes]; at most ``sample`` rows drawn), for each of its
    ``halves`` (the hash and its confirm hash): a list of floats (bits)."""
    hashes = np.asarray(hashes, np.uint8)
    if len(hashes) > sample:
        rows = np.random.default_rng(seed).choice(len(hashes), sample, replace=False)
        hashes = hashes[np.sort(rows)]
    bits = np.unpackbits(hashes, axis=1).astype(np.float32)
    upper = np.triu_indices(len(bits), 1)
    out = []
    for part in np.split(bits, halves, axis=1):
        dist = part @ (1 - part).T + (1 - part) @ part.T  # bits set in one row only
        out.append(float(np.percentile(dist[upper], percentile)))
    return out


def data_thresholds(hashes, max_distance=DEFAULT_MAX_DISTANCE,
                    confirm_distance=CONFIRM_MAX_DISTANCE):
    """(max_distance, confirm_distance) for these images: the given ones, each capped at
    a share of the data's typical pairwise distance (see RELATIVE_SHARE), not below
    FLOOR; the given ones unchanged below MIN_RELATIVE images."""
    if len(hashes) < MIN_RELATIVE:
        return max_distance, confirm_distance
    halves = 2 if confirm_distance is not None else 1
    typical = pair_distance_percentile(hashes, halves=halves)
    capped = min(max_distance, max(FLOOR, int(RELATIVE_SHARE * typical[0])))
    if confirm_distance is None:
        return capped, None
    return capped, min(confirm_distance, max(FLOOR, int(CONFIRM_RELATIVE_SHARE * typical[1])))
