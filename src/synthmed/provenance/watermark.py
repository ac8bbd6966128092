"""Invisible watermark: a dataset id hidden in the pixels of every exported image.

Scheme (spread spectrum with a periodic, self-synchronising tile)
-----------------------------------------------------------------
A ``TILE`` x ``TILE`` pixel pattern (64 x 64) is repeated over the whole image and added
to it. The pattern is a band-limited (Fourier-interpolated) grid of ``CHIPS`` x ``CHIPS``
(16 x 16) chips of 4 x 4 pixels, each chip the sum of

* a fixed pseudo-random +-1 **sync** chip, the same in every synthmed image, and
* a **payload** chip: one bit of a 90-bit codeword times a pseudo-random +-1 sign.

The codeword is 48 bits (32-bit dataset id + CRC-16 of it) protected by a BCH code
(``bchlib``, m = 7, t = 6: any 6 wrong bits are corrected). Pseudo-random patterns come
from a fixed public seed, so anyone can verify a mark (and so anyone can also try to
remove it: the mark says "synthetic", it is not a security feature).

Detection needs no original and no knowledge of the image size:

1. whiten the image (divide its spectrum by its smoothed magnitude), so that anatomy no
   longer dominates the mark;
2. the repeated tile makes peaks in the autocorrelation on a square lattice; a search over
   period (24-160 px: 0.375x to 2.5x the embedded size) and angle (+-10 degrees) finds it,
   which undoes resizing and small rotations;
3. fold the image onto one tile along that lattice (average all tiles), find the circular
   shift by correlating with the sync pattern (this undoes cropping); refine period and
   angle by coordinate ascent on that correlation;
4. the image is called **synthetic** when the sync correlation's z-score reaches
   :data:`Z_DETECT` (6; unmarked real images stay below about 4.5, measured in
   ``benchmarks/watermark.py``);
5. the dataset id is read blind: BCH decoding with Chase-II (the 5 least reliable bits
   flipped in all combinations) and the CRC must agree (a random word passes with
   probability about 1e-7). When that fails and the caller knows which ids to expect (a
   file inside its dataset), the expected id's codeword is accepted if the soft bits
   correlate with it at z >= 5. The blind read needs more signal than detection: a
   mark can be detected while its id is unreadable, never read as a wrong id by chance.

Strength: the tile has RMS ``strength`` (default 0.006 of the [0, 1] range, PSNR about
44 dB); images in other units get ``strength`` times their 0.5-99.5 percentile range, HU
images ``HU_STRENGTH`` (3 HU, well below CT quantum noise). Volumes get the same tile on
every axial slice ``(z, y, x)``; RGB images get it on all channels (it survives
conversion to gray). Where values are clipped (black background at 0) part of the mark
is lost; detection uses the whole image.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> image = np.clip(0.5 + 0.05 * rng.standard_normal((256, 256)), 0, 1).astype(np.float32)
>>> marked = embed(image, "1a2b3c4d", units="1")
>>> float(np.sqrt(np.mean((marked - image) ** 2))) < 0.01
True
>>> found = detect(marked)
>>> found.synthetic, found.dataset_id, detect(image).synthetic
(True, '1a2b3c4d', False)
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from synthmed.errors import SynthmedError

__all__ = ["SCHEME", "TILE", "CHIPS", "STRENGTH", "HU_STRENGTH", "Z_DETECT", "Detection", "dataset_id",
           "embed", "detect", "mark_sample"]

SCHEME = "synthmed spread-spectrum tile v1"
TILE = 64          # tile period at embedding, pixels
CHIPS = 16         # chips per tile side (4 x 4 pixel chips)
FOLD = 32          # bins per tile side when folding a suspect image
STRENGTH = 0.006   # RMS of the mark, fraction of the [0, 1] range
HU_STRENGTH = 3.0  # RMS of the mark in HU
_ID_BITS, _CRC_BITS = 32, 16
_BCH_T, _BCH_M = 6, 7
_LOW_CUT = 2               # chip frequencies <= this are left out of the mark
_PERIODS = (24.0, 160.0)   # search range of the period in a suspect image, pixels
_MAX_ANGLE = 10.0          # degrees
_SEED = 0x5EED_3A7E        # public: the scheme is verifiable by anyone
_CHASE = 5                 # least reliable bits tried flipped when decoding
_ID_MATCH_Z = 5.0          # correlation (z) with an expected id's codeword to accept it
_REFINE = ((0.004, 0.0), (0.0, 0.125), (0.001, 0.0), (0.0, 0.05))
Z_DETECT = 6.0             # sync z-score above which an image is called synthetic
_ID = re.compile(r"^[0-9a-f]{8}$")


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect`.

    ``dataset_id`` is the 8-hex-digit id when a valid mark was found, else ``None``;
    ``score`` the sync correlation (z-score) of the best lattice; ``period_px`` and
    ``angle_deg`` the tile lattice found (64 px, 0 degrees for an untouched image);
    ``bit_errors`` the bits BCH corrected.
    """

    synthetic: bool
    dataset_id: str | None
    score: float
    period_px: float = 0.0
    angle_deg: float = 0.0
    id_from: str = ""


def dataset_id(spec) -> str:
    """The id a spec's images are marked with: the first 8 hex digits (32 bits) of
    ``spec.identity()``, so datasets that hold the same samples share it."""
    return spec.identity()[:8]


# ----------------------------------------------------------------------------- patterns

@functools.lru_cache(maxsize=None)
def _bch():
    import bchlib

    return bchlib.BCH(_BCH_T, m=_BCH_M)


@functools.lru_cache(maxsize=None)
def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sync chips (C, C), payload signs (C, C) and the codeword bit of every chip."""
    rng = np.random.default_rng(_SEED)
    sync = rng.choice([-1.0, 1.0], size=(CHIPS, CHIPS))
    signs = rng.choice([-1.0, 1.0], size=(CHIPS, CHIPS))
    bit_of = rng.permutation(np.arange(CHIPS * CHIPS) % _n_bits()).reshape(CHIPS, CHIPS)
    return sync, signs, bit_of


def _n_bits() -> int:
    return _ID_BITS + _CRC_BITS + _bch().ecc_bits


def _band(chips: np.ndarray) -> np.ndarray:
    """Remove the lowest chip frequencies (where anatomy has most of its energy)."""
    k = np.abs(np.fft.fftfreq(CHIPS, 1.0 / CHIPS))
    keep = np.maximum.outer(k, k) > _LOW_CUT
    return np.real(np.fft.ifft2(np.fft.fft2(chips, axes=(-2, -1)) * keep, axes=(-2, -1)))


@functools.lru_cache(maxsize=None)
def _bases(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sync pattern (size, size) and one pattern per codeword bit (n_bits, size, size)."""
    sync, signs, bit_of = _layout()
    per_bit = np.stack([signs * (bit_of == b) for b in range(_n_bits())])
    return (_resample(_band(sync), size),
            np.stack([_resample(c, size) for c in _band(per_bit)]))


def _resample(grid: np.ndarray, n: int) -> np.ndarray:
    """Periodic band-limited resampling of a square periodic grid to n x n (FFT)."""
    m = grid.shape[0]
    spec = np.fft.fftshift(np.fft.fft2(grid))
    if n >= m:
        out = np.zeros((n, n), complex)
        lo = (n - m) // 2
        out[lo:lo + m, lo:lo + m] = spec
    else:
        a = (m - n) // 2
        out = spec[a:a + n, a:a + n]
    return np.real(np.fft.ifft2(np.fft.ifftshift(out))) * (n * n) / (m * m)


def _crc16(data: bytes) -> int:
    crc = 0xFFFF  # CRC-16/CCITT-FALSE
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _codeword(dataset_id: str) -> np.ndarray:
    """+-1 codeword bits for ``dataset_id`` (8 hex digits)."""
    data = bytes.fromhex(dataset_id)
    data += _crc16(data).to_bytes(2, "big")
    ecc = bytes(_bch().encode(data))
    bits = np.unpackbits(np.frombuffer(data + ecc, np.uint8))
    return bits[:_n_bits()].astype(float) * 2 - 1


@functools.lru_cache(maxsize=64)
def _tile(dataset_id: str) -> np.ndarray:
    """The TILE x TILE mark of ``dataset_id``, unit RMS."""
    sync, bits = _bases(TILE)
    tile = sync + np.tensordot(_codeword(dataset_id), bits, axes=1)
    return tile / np.sqrt(np.mean(tile ** 2))


# ----------------------------------------------------------------------------- embedding

def embed(image: np.ndarray, dataset_id: str, units: str = "1",
          strength: float = STRENGTH) -> np.ndarray:
    """Add the mark of ``dataset_id`` to an image or volume; return a new float32 array.

    Parameters
    ----------
    image : ndarray
        2D ``(rows, cols)``, RGB(A) ``(rows, cols, 3|4)`` or a volume ``(z, y, x)``.
    dataset_id : str
        8 hex digits (32 bits), e.g. the start of the spec identity.
    units : str
        ``"1"`` (dimensionless [0, 1], result clipped to [0, 1]), ``"HU"`` (mark RMS
        :data:`HU_STRENGTH` HU) or any other unit (RMS ``strength`` times the image's
        0.5-99.5 percentile range).
    strength : float
        RMS of the mark as a fraction of the [0, 1] range.

    >>> embed(np.zeros((4, 4)), "00000001").shape
    (4, 4)
    """
    if not _ID.match(dataset_id):
        raise SynthmedError(f"watermark id {dataset_id!r} must be 8 lowercase hex digits")
    image = np.asarray(image)
    rgb = image.ndim == 3 and image.shape[-1] in (3, 4) and units == "1"
    rows, cols = image.shape[:2] if rgb else image.shape[-2:]
    reps = (-(-rows // TILE), -(-cols // TILE))
    pattern = np.tile(_tile(dataset_id), reps)[:rows, :cols]
    if units == "1":
        amplitude = strength
    elif units == "HU":
        amplitude = HU_STRENGTH
    else:
        lo, hi = np.percentile(image, [0.5, 99.5]) if image.size else (0.0, 0.0)
        amplitude = strength * float(hi - lo)
    mark = (amplitude * pattern).astype(np.float32)
    if rgb:
        mark = mark[..., None] * (np.arange(image.shape[-1]) < 3)  # alpha stays
    out = image.astype(np.float32) + mark
    return np.clip(out, 0.0, 1.0) if units == "1" else out


def mark_sample(sample, dataset_id: str):
    """Return ``sample`` with every image marked (labels untouched); see :func:`embed`."""
    images = {name: embed(img, dataset_id, sample.units.get(name, "1"))
              for name, img in sample.images.items()}
    return dataclasses.replace(sample, images=images)


# ----------------------------------------------------------------------------- detection

def _gray(image: np.ndarray) -> np.ndarray:
    """A 2D float image: RGB averaged, a volume's slices averaged (the mark is the same
    on every slice, the anatomy is not)."""
    a = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        a = a[..., :3].mean(-1)
    while a.ndim > 2:
        a = a.mean(0)
    if a.ndim != 2:
        raise SynthmedError(f"cannot look for a watermark in an array of shape {a.shape}")
    return a


def _whiten(a: np.ndarray) -> np.ndarray:
    """Flatten the spectrum: divide by the square root of the local spectral magnitude
    (neighbouring frequencies only, so a strong mark does not whiten itself away)."""
    spec = np.fft.fft2(a - a.mean())
    ring = np.ones((5, 5)) / 24.0
    ring[2, 2] = 0.0
    power = ndimage.correlate(np.abs(spec) ** 2, ring, mode="wrap")
    white = np.real(np.fft.ifft2(spec / (power ** 0.25 + 1e-12)))
    return (white / (white.std() + 1e-12)).astype(np.float32)


def _lattice_candidates(white: np.ndarray, k: int = 12) -> list[tuple[float, float]]:
    """(period, angle) of the strongest square lattices in the autocorrelation."""
    rows, cols = white.shape
    acf = np.real(np.fft.ifft2(np.abs(np.fft.fft2(white)) ** 2))
    acf = np.fft.fftshift(acf) / acf.flat[0]
    cy, cx = rows // 2, cols // 2
    hi = min(_PERIODS[1], 0.45 * min(rows, cols))
    if hi <= _PERIODS[0]:
        return []
    periods = np.exp(np.arange(np.log(_PERIODS[0]), np.log(hi), 0.004))
    angles = np.deg2rad(np.arange(-_MAX_ANGLE, _MAX_ANGLE + 1e-9, 0.25))
    p, t = np.meshgrid(periods, angles, indexing="ij")
    score = np.zeros_like(p)
    for a, b in ((1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2)):
        dx = p * (a * np.cos(t) - b * np.sin(t))
        dy = p * (a * np.sin(t) + b * np.cos(t))
        score += ndimage.map_coordinates(acf, [cy + dy, cx + dx], order=1, mode="wrap")
    peaks = (score == ndimage.maximum_filter(score, size=(9, 5))) & (score > 0)
    order = np.argsort(score[peaks])[::-1][:k]
    return [(float(pp), float(np.rad2deg(tt)))
            for pp, tt in zip(p[peaks][order], t[peaks][order])]


def _fold(white: np.ndarray, period: float, angle_deg: float) -> np.ndarray:
    """Average the image onto one FOLD x FOLD tile along the lattice."""
    rows, cols = white.shape
    t = np.deg2rad(angle_deg)
    f = FOLD / period
    y = np.arange(rows, dtype=np.float32)[:, None]
    x = np.arange(cols, dtype=np.float32)[None, :]
    u = np.floor((np.cos(t) * f) * y - (np.sin(t) * f) * x).astype(np.int64) % FOLD
    v = np.floor((np.sin(t) * f) * y + (np.cos(t) * f) * x).astype(np.int64) % FOLD
    idx = (u * FOLD + v).ravel()
    total = np.bincount(idx, weights=white.ravel(), minlength=FOLD * FOLD)
    count = np.bincount(idx, minlength=FOLD * FOLD)
    return (total / np.maximum(count, 1)).reshape(FOLD, FOLD)


def _sync(folded: np.ndarray) -> tuple[float, np.ndarray]:
    """Sync z-score of a folded tile and the tile shifted into place."""
    sync, _ = _bases(FOLD)
    corr = np.real(np.fft.ifft2(np.fft.fft2(folded) * np.conj(np.fft.fft2(sync))))
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    z = float((corr[dy, dx] - np.median(corr)) / (corr.std() + 1e-12))
    return z, np.roll(folded, (-dy, -dx), axis=(0, 1))


def _soft_bits(tile: np.ndarray) -> np.ndarray:
    """Soft codeword bits (positive: 1) of a tile shifted into place."""
    sync, bases = _bases(FOLD)
    tile = tile - (tile * sync).sum() / (sync * sync).sum() * sync
    return bases.reshape(len(bases), -1) @ tile.ravel()


def _bch_decode(bits: np.ndarray) -> tuple[str | None, int]:
    """Hard bits -> (dataset id, corrected errors) if BCH and CRC agree, else (None, -1)."""
    n_data = (_ID_BITS + _CRC_BITS) // 8
    packed = np.packbits(np.concatenate([bits, np.zeros(-len(bits) % 8, np.uint8)])).tobytes()
    data, ecc = bytearray(packed[:n_data]), bytearray(packed[n_data:])
    bch = _bch()
    errors = bch.decode(data, ecc)
    if errors < 0:
        return None, -1
    bch.correct(data, ecc)
    if _crc16(bytes(data[:4])) != int.from_bytes(data[4:6], "big"):
        return None, -1
    return bytes(data[:4]).hex(), errors


def _read_id(soft: np.ndarray, expected: tuple[str, ...]) -> tuple[str | None, str]:
    """Dataset id from soft bits: BCH with Chase-II (the ``_CHASE`` least reliable bits
    flipped in every combination), else the expected id whose codeword correlates."""
    hard = (soft > 0).astype(np.uint8)
    weak = np.argsort(np.abs(soft))[:_CHASE]
    for flips in range(2 ** _CHASE):
        trial = hard.copy()
        for j, pos in enumerate(weak):
            if flips >> j & 1:
                trial[pos] ^= 1
        found, _ = _bch_decode(trial)
        if found:
            return found, "decoded"
    norm = np.sqrt(np.sum(soft ** 2)) + 1e-12
    for dataset_id in expected:
        if float(soft @ _codeword(dataset_id)) / norm >= _ID_MATCH_Z:
            return dataset_id, "matched"
    return None, ""


def detect(image: np.ndarray, expected: tuple[str, ...] = ()) -> Detection:
    """Look for a synthmed mark in an image (scale 0.375-2.5x, rotation +-10 degrees,
    crops, 8-bit or JPEG copies); see the module docstring.

    Parameters
    ----------
    image : ndarray
        2D gray, RGB(A) ``(rows, cols, 3|4)`` or a volume ``(z, y, x)``, any dtype.
    expected : tuple of str
        Dataset ids to test for when the id cannot be decoded blind (e.g. the id of the
        dataset a file sits in).
    """
    white = _whiten(_gray(image))
    lattices = _lattice_candidates(white)
    if not lattices:
        return Detection(False, None, 0.0)
    tried = [(_sync(_fold(white, p, a))[0], p, a) for p, a in [(TILE, 0.0), *lattices]]
    z, period, angle = max(tried)
    for dp, da in _REFINE:  # coordinate ascent on the sync score around the best lattice
        for step in (-1, 1):
            while True:
                p, a = period * (1 + step * dp), angle + step * da
                zz = _sync(_fold(white, p, a))[0]
                if zz <= z:
                    break
                z, period, angle = zz, p, a
    if z < Z_DETECT:
        return Detection(False, None, z, period, angle)
    dataset_id, how = None, ""
    for p, a in dict.fromkeys([(period, angle), (TILE, 0.0)]):  # + the untouched lattice
        dataset_id, how = _read_id(_soft_bits(_sync(_fold(white, p, a))[1]), tuple(expected))
        if dataset_id:
            break
    return Detection(True, dataset_id, z, period, angle, how)
