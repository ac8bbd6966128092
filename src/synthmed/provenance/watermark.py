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

1. whiten the image: divide its spectrum by (local spectral power) ** 0.375, taken from
   the neighbouring frequencies only so a strong mark does not whiten itself away, then
   divide by the local RMS over 17 x 17 px, so that anatomy, edges and texture no longer
   dominate the mark;
2. the repeated tile makes peaks in the autocorrelation on a square lattice; a search over
   period (24-160 px: 0.375x to 2.5x the embedded size) and angle (+-10 degrees, 0.25
   degree steps) finds candidates, which undoes resizing and small rotations;
3. fold the image onto one tile along each candidate lattice (average all tiles: a 32 x
   32 grid of bins, band-passed to the mark's chip frequencies, 264 degrees of freedom),
   find the circular shift by correlating with the sync pattern (this undoes cropping);
   refine the best lattice on a local grid (+-0.5 % period, +-0.3 degree) and by
   coordinate ascent (down to 0.04 % period, 0.015 degree) on the sync z-score: the
   correlation divided by its noise standard deviation, estimated from what is left of
   the folded tile once the sync and payload span (91 dimensions) is removed;
4. that search picks the best of many lattices and 1024 shifts, so its z-score has no
   simple null distribution (unmarked images reach 7). The **detection statistic** is
   therefore held out: the pixels are split into two halves (16 px blocks, each drawn
   at random with a fixed seed; a regular checkerboard would line up with the tile), the
   shift is found on one half and the sync correlation is scored on the other at that
   shift, both ways, and the two z-scores are averaged. For a noise-like unmarked image
   each is about a standard normal; periodic textures (both halves see the same
   structure) and the lattice search on the whole image widen that: measured over 3000
   unmarked images (``benchmarks/watermark.py``: skimage.data, crops, rescales,
   rotations, JPEG, unmarked synthmed images) the score has mean 1.25, standard
   deviation 1.25, 99.9th percentile 4.85 and maximum 5.15 (skimage's checkerboard).
   The image is called **synthetic** from :data:`Z_DETECT` = 6 up: 0 of those 3000
   over it (false-positive rate <= 0.1 % at 95 % confidence), 0.85 above the highest;
5. the dataset id is read blind from the whole fold: BCH decoding with Chase-II (the 5
   least reliable bits flipped in all combinations) and the CRC must agree (a random word
   passes with probability about 1e-7). When that fails and the caller knows which ids
   to expect (a file inside its dataset), the expected id's codeword is accepted if the
   soft bits correlate with it at z >= 5. The blind read needs more signal than
   detection: a mark can be detected while its id is unreadable, never read as a wrong id
   by chance.

Strength (perceptual): the tile has RMS :func:`masking_strength` of the image: 0.6 times
its fine-texture RMS (robust), clipped to 0.006-0.01 of the [0, 1] range (PSNR 44.4 to 40
dB): smooth radiographs get 0.006, speckle and stained tissue up to 0.01, where texture
hides it. Images in other units get that fraction of their 0.5-99.5 percentile range, HU
images ``HU_STRENGTH`` (3 HU, well below CT quantum noise). Volumes get the same tile on
every axial slice ``(z, y, x)``; RGB images get it on all channels (it survives
conversion to gray). Where values are clipped (black background at 0) part of the mark
is lost; detection uses the whole image. Images smaller than about 2.5 tiles (160 px)
give too few tiles to fold and are rarely detected.

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

__all__ = ["SCHEME", "TILE", "CHIPS", "STRENGTH", "STRENGTH_MAX", "HU_STRENGTH", "Z_DETECT",
           "Detection", "dataset_id",
           "embed", "detect", "mark_sample", "masking_strength"]

SCHEME = "synthmed spread-spectrum tile v2"
TILE = 64          # tile period at embedding, pixels
CHIPS = 16         # chips per tile side (4 x 4 pixel chips)
FOLD = 32          # bins per tile side when folding a suspect image
STRENGTH = 0.006   # RMS of the mark on smooth images, fraction of the [0, 1] range
STRENGTH_MAX = 0.01  # RMS on textured images (PSNR 40 dB), fraction of the [0, 1] range
_MASKING = 0.6     # mark RMS per unit of the image's fine-texture RMS (robust), 1
HU_STRENGTH = 3.0  # RMS of the mark in HU
_ID_BITS, _CRC_BITS = 32, 16
_BCH_T, _BCH_M = 6, 7
_LOW_CUT = 2               # chip frequencies <= this are left out of the mark
_PERIODS = (24.0, 160.0)   # search range of the period in a suspect image, pixels
_MAX_ANGLE = 10.0          # degrees
_SEED = 0x5EED_3A7E        # public: the scheme is verifiable by anyone
_CHASE = 5                 # least reliable bits tried flipped when decoding
_ID_MATCH_Z = 5.0          # correlation (z) with an expected id's codeword to accept it
_REFINE = ((0.004, 0.0), (0.0, 0.125), (0.001, 0.0), (0.0, 0.04), (0.0004, 0.0), (0.0, 0.015))
_WHITEN = 0.375            # spectrum divided by (local power) ** this
_SPLIT_PX = 16             # checkerboard blocks of the held-out score, pixels
_LOCAL_PX = 17             # window of the local RMS normalisation after whitening, pixels
Z_DETECT = 6.0             # held-out sync z-score to call synthetic (measured null: max 5.15)
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
def _bases(size: int, binned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sync pattern (size, size) and one pattern per codeword bit (n_bits, size, size).

    ``binned``: as :func:`_fold` sees them, each value the mean over its bin (a box of
    1/size of the tile) rather than the value at the bin's first corner.
    """
    sync, signs, bit_of = _layout()
    per_bit = np.stack([signs * (bit_of == b) for b in range(_n_bits())])
    return (_resample(_band(sync), size, binned),
            np.stack([_resample(c, size, binned) for c in _band(per_bit)]))


def _resample(grid: np.ndarray, n: int, binned: bool = False) -> np.ndarray:
    """Periodic band-limited resampling of a square periodic grid to n x n (FFT); with
    ``binned``, box-averaged over each output cell instead of sampled at its corner."""
    m = grid.shape[0]
    spec = np.fft.fftshift(np.fft.fft2(grid))
    if n >= m:
        out = np.zeros((n, n), complex)
        lo = (n - m) // 2
        out[lo:lo + m, lo:lo + m] = spec
    else:
        a = (m - n) // 2
        out = spec[a:a + n, a:a + n]
    out = np.fft.ifftshift(out)
    if binned:  # mean over a cell: sinc response, centred 1/4 cell on (2 x 2 px cells)
        k = np.fft.fftfreq(n)
        h = np.sinc(k) * np.exp(1j * np.pi * k * 0.5)
        out = out * np.outer(h, h)
    return np.real(np.fft.ifft2(out)) * (n * n) / (m * m)


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
          strength: float | None = None) -> np.ndarray:
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
    strength : float, optional
        RMS of the mark as a fraction of the [0, 1] range; by default
        :func:`masking_strength` of the image (0.006 to 0.01: stronger on texture).

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
    if units == "HU":
        amplitude = HU_STRENGTH
    else:
        span = 1.0
        if units != "1":
            lo, hi = np.percentile(image, [0.5, 99.5]) if image.size else (0.0, 0.0)
            span = float(hi - lo)
        if strength is None:
            strength = masking_strength(image, span)
        amplitude = strength * span
    mark = (amplitude * pattern).astype(np.float32)
    if rgb:
        mark = mark[..., None] * (np.arange(image.shape[-1]) < 3)  # alpha stays
    out = image.astype(np.float32) + mark
    return np.clip(out, 0.0, 1.0) if units == "1" else out


def masking_strength(image: np.ndarray, span: float = 1.0) -> float:
    """Mark RMS (fraction of ``span``, the image's value range) that its texture hides.

    Fine texture is the robust RMS (1.4826 x median absolute deviation) of the image
    minus its Gaussian blur (sigma 1.5 px), in units of ``span``; the mark gets
    ``_MASKING`` (0.6) times that, clipped to [``STRENGTH``, ``STRENGTH_MAX``] =
    [0.006, 0.01] (PSNR 44.4 to 40 dB). Smooth radiographs get 0.006; speckle
    (ultrasound) and stained tissue (histopathology) get up to 0.01, where the texture
    both hides the mark and masks it from the detector.
    """
    if span <= 0 or image.size == 0:
        return STRENGTH
    g = _gray(image)
    if min(g.shape) < 8:
        return STRENGTH
    hp = g - ndimage.gaussian_filter(g, 1.5)
    texture = 1.4826 * float(np.median(np.abs(hp - np.median(hp)))) / span
    return float(np.clip(_MASKING * texture, STRENGTH, STRENGTH_MAX))


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
    """Flatten the spectrum: divide by (local spectral power) ** ``_WHITEN`` (neighbouring
    frequencies only, so a strong mark does not whiten itself away), then divide by the
    local RMS (``_LOCAL_PX`` window), so busy regions (edges, texture) count less than
    quiet ones, as their noise is larger."""
    spec = np.fft.fft2(a - a.mean())
    ring = np.ones((5, 5)) / 24.0
    ring[2, 2] = 0.0
    power = ndimage.correlate(np.abs(spec) ** 2, ring, mode="wrap")
    white = np.real(np.fft.ifft2(spec / (power ** _WHITEN + 1e-12)))
    white /= white.std() + 1e-12
    white /= np.sqrt(ndimage.uniform_filter(white * white, _LOCAL_PX, mode="reflect") + 1e-3)
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


def _fold(white: np.ndarray, period: float, angle_deg: float,
          keep: np.ndarray | None = None) -> np.ndarray:
    """Average the image (its ``keep`` pixels) onto one FOLD x FOLD tile along the lattice."""
    rows, cols = white.shape
    t = np.deg2rad(angle_deg)
    f = FOLD / period
    y = np.arange(rows, dtype=np.float32)[:, None]
    x = np.arange(cols, dtype=np.float32)[None, :]
    u = np.floor((np.cos(t) * f) * y - (np.sin(t) * f) * x).astype(np.int64) % FOLD
    v = np.floor((np.sin(t) * f) * y + (np.cos(t) * f) * x).astype(np.int64) % FOLD
    idx = (u * FOLD + v).ravel()
    values = white.ravel()
    if keep is not None:
        idx, values = idx[keep.ravel()], values[keep.ravel()]
    total = np.bincount(idx, weights=values, minlength=FOLD * FOLD)
    count = np.bincount(idx, minlength=FOLD * FOLD)
    return (total / np.maximum(count, 1)).reshape(FOLD, FOLD)


@functools.lru_cache(maxsize=None)
def _fold_model() -> tuple[np.ndarray, np.ndarray, int]:
    """Band mask of the folded tile (the mark's chip frequencies), the projector onto the
    span of the sync and payload patterns, and the residual degrees of freedom."""
    k = np.abs(np.fft.fftfreq(FOLD, 1.0 / FOLD))
    kk = np.maximum.outer(k, k)
    band = (kk > _LOW_CUT) & (kk <= CHIPS // 2)
    sync, bases = _bases(FOLD, True)
    a = np.concatenate([sync.reshape(1, -1), bases.reshape(len(bases), -1)]).T
    return band, a @ np.linalg.pinv(a), int(band.sum()) - a.shape[1]


@functools.lru_cache(maxsize=8)
def _halves(rows: int, cols: int) -> np.ndarray:
    """Pseudo-random half of ``rows`` x ``cols`` blocks (not periodic, so each half sees
    every part of the tile whatever the lattice)."""
    return np.random.default_rng(_SEED + 1).random((rows, cols)) < 0.5


def _split_score(white: np.ndarray, period: float, angle_deg: float) -> float:
    """Held-out z-score: the pixels split into two halves (``_SPLIT_PX`` blocks drawn
    at random with a fixed seed); the circular shift found on one half is scored on the other
    (no search there, so a standard normal for unmarked images), and the two scores are
    averaged (variance <= 1 whatever their correlation)."""
    rows, cols = white.shape
    half = _halves(-(-rows // _SPLIT_PX), -(-cols // _SPLIT_PX))
    half = np.repeat(np.repeat(half, _SPLIT_PX, 0), _SPLIT_PX, 1)[:rows, :cols]
    sync, _ = _bases(FOLD, True)
    band, proj, dof = _fold_model()
    tiles, shifts = [], []
    for keep in (half, ~half):
        t = np.real(np.fft.ifft2(np.fft.fft2(_fold(white, period, angle_deg, keep)) * band))
        corr = np.real(np.fft.ifft2(np.fft.fft2(t) * np.conj(np.fft.fft2(sync))))
        tiles.append(t)
        shifts.append(np.unravel_index(np.argmax(corr), corr.shape))
    z = 0.0
    for t, (dy, dx) in zip(tiles, shifts[::-1]):
        flat = np.roll(t, (-int(dy), -int(dx)), axis=(0, 1)).ravel()
        resid = flat - proj @ flat
        z += float(flat @ sync.ravel()) / (np.sqrt(resid @ resid / dof * np.sum(sync * sync))
                                           + 1e-12)
    return z / 2


def _sync(folded: np.ndarray) -> tuple[float, np.ndarray]:
    """Sync z-score of a folded tile and the tile (band-passed) shifted into place.

    The z-score is the sync correlation at the best circular shift divided by its
    standard deviation under noise, estimated from what is left of the band-passed tile
    after removing everything the mark could explain (sync + payload span, 91 of 264
    dimensions): it grows with the mark's strength without bound, and for a fold of
    noise it is a standard normal at each shift (max over the search: see Z_DETECT).
    """
    sync, _ = _bases(FOLD, True)
    band, proj, dof = _fold_model()
    folded = np.real(np.fft.ifft2(np.fft.fft2(folded) * band))
    corr = np.real(np.fft.ifft2(np.fft.fft2(folded) * np.conj(np.fft.fft2(sync))))
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    tile = np.roll(folded, (-dy, -dx), axis=(0, 1))
    flat = tile.ravel()
    resid = flat - proj @ flat
    sigma = np.sqrt(resid @ resid / dof * np.sum(sync * sync)) + 1e-12
    return float(corr[dy, dx] / sigma), tile


def _soft_bits(tile: np.ndarray) -> np.ndarray:
    """Soft codeword bits (positive: 1) of a tile shifted into place."""
    sync, bases = _bases(FOLD, True)
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
    p0, a0 = period, angle  # local grid (+-0.5 % period, +-0.3 degree), then ascent
    for p, a in [(p0 * (1 + i * 0.005), a0 + j * 0.1) for i in (-1, 0, 1) for j in range(-3, 4)]:
        zz = _sync(_fold(white, p, a))[0]
        if zz > z:
            z, period, angle = zz, p, a
    for dp, da in _REFINE:  # coordinate ascent on the sync score around the best lattice
        for step in (-1, 1):
            while True:
                p, a = period * (1 + step * dp), angle + step * da
                zz = _sync(_fold(white, p, a))[0]
                if zz <= z:
                    break
                z, period, angle = zz, p, a
    z = _split_score(white, period, angle)
    if z < Z_DETECT:
        return Detection(False, None, z, period, angle)
    dataset_id, how = None, ""
    for p, a in dict.fromkeys([(period, angle), (TILE, 0.0)]):  # + the untouched lattice
        dataset_id, how = _read_id(_soft_bits(_sync(_fold(white, p, a))[1]), tuple(expected))
        if dataset_id:
            break
    return Detection(True, dataset_id, z, period, angle, how)
