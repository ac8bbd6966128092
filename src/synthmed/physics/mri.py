"""Magnetic resonance imaging: tissue relaxation, signal equations, clinical protocols and
SynthSeg-style random contrast.

Each step is one small function; a brain MR image is
``acquire(synthesize(relaxation_maps(tissue, names, 3.0, rng=rng), protocol("flair", 3.0)),
spacing_mm, rng, snr=30)``.

1. :data:`RELAXATION`: proton density (PD, relative to CSF = 1), T1, T2 and T2* in ms of each
   tissue at 1.5 and 3 T, from published in-vivo measurements (sources beside each value);
   :data:`GADOLINIUM_MM` and :data:`RELAXIVITY`: contrast agent in each tissue and its effect,
   ``1/T1 = 1/T1₀ + r1 C`` and ``1/T2 = 1/T2₀ + r2 C``.
2. Signal equations, vectorised, float32: :func:`spin_echo`, :func:`gradient_echo` (spoiled),
   :func:`inversion_recovery` (magnitude, IR spin echo) and :func:`mprage` (inversion-prepared
   spoiled gradient-echo train, the signal at the centre of k-space).
3. :class:`Sequence` and :func:`protocol`: clinically typical parameters of ``t1``, ``t1c``,
   ``t2``, ``flair``, ``pd`` and ``t2star`` at each field (:data:`SEQUENCES`); FLAIR's
   inversion time nulls CSF at its TR (:func:`null_inversion_time_ms`).
4. :func:`relaxation_maps`: PD/T1/T2/T2* volumes from a tissue map by lookup, with a smooth
   multiplicative texture of a few % per tissue; :func:`synthesize`: the image of a sequence.
5. Acquisition (k-space truncation, partial Fourier, undersampling, Rician noise, motion,
   bias field) is :func:`~synthmed.physics.mri_kspace.acquire`; domain randomisation of a
   label map (SynthSeg) is :func:`~synthmed.physics.mri_kspace.random_contrast`. Both are
   re-exported here, with :func:`~synthmed.physics.mri_kspace.slice_profile`.

Signals are relative to fully relaxed water (CSF PD = 1), no receiver gain: ``a.u.``.

Example
-------
>>> import numpy as np
>>> names = ["background", "csf", "grey_matter", "white_matter"]
>>> tissue = np.array([[1, 2, 3]], np.uint8)
>>> flair = synthesize(relaxation_maps(tissue, names, 3.0), protocol("flair", 3.0))
>>> bool(flair[0, 0] < 0.05 * flair[0, 2] < flair[0, 1])      # CSF nulled, GM above WM
True
"""

from __future__ import annotations

import dataclasses
from collections import abc
from typing import Literal, NamedTuple

import numpy as np

from synthmed.physics.mri_kspace import (acquire, fourier_downsample, random_contrast,
                                        slice_profile, smooth_field)

__all__ = ["Relaxation", "RELAXATION", "GADOLINIUM_MM", "RELAXIVITY", "FLOWING_BLOOD",
           "tissue_relaxation", "spin_echo", "gradient_echo", "inversion_recovery", "mprage",
           "ernst_angle_deg", "null_inversion_time_ms", "Sequence", "SEQUENCES", "protocol",
           "relaxation_maps", "synthesize", "random_contrast", "acquire", "fourier_downsample",
           "slice_profile"]


class Relaxation(NamedTuple):
    """One tissue at one field: PD relative to CSF (= 1), relaxation times in ms."""

    pd: float
    t1_ms: float
    t2_ms: float
    t2star_ms: float


# Reversible dephasing R2' = 1/T2* - 1/T2 (1/ms) of brain tissue: Peters et al. T2* with
# Stanisz et al. T2 give 1.4 (GM), 1.2 (WM) /s at 1.5 T and 5.1, 4.3 /s at 3 T. Tissues with
# no measured T2* here get 1/T2* = 1/T2 + R2' (macroscopic field inhomogeneity over a voxel).
_R2_PRIME = {1.5: 1.3e-3, 3.0: 4.7e-3}


def _t2star(t2_ms: float, field: float) -> float:
    return 1.0 / (1.0 / t2_ms + _R2_PRIME[field])


def _mix(a: Relaxation, b: Relaxation, fraction_b: float, field: float) -> Relaxation:
    """Tissue made of ``1 - f`` of ``a`` and ``f`` of ``b`` in fast exchange: relaxation
    *rates* and PD mix by volume fraction; T2* from R2'."""
    f = fraction_b
    t1 = 1.0 / ((1 - f) / a.t1_ms + f / b.t1_ms)
    t2 = 1.0 / ((1 - f) / a.t2_ms + f / b.t2_ms)
    return Relaxation(round((1 - f) * a.pd + f * b.pd, 3), float(round(t1)), round(t2, 1),
                      round(_t2star(t2, field), 1))


def _table(field: float) -> dict[str, Relaxation]:
    at = {1.5: 0, 3.0: 1}[field]

    def measured(pd, t1, t2, t2star=None):
        t2 = float(t2[at])
        return Relaxation(float(pd), float(t1[at]), t2,
                          float(t2star[at]) if t2star else round(_t2star(t2, field), 1))

    # PD: water content relative to CSF (0.97 of pure water): GM 0.78, WM 0.65 of water
    # (Ernst, Kreis & Ross, J Magn Reson B 102 (1993) 1) -> 0.80, 0.67.
    # T1 of GM, WM and deep grey (mean of putamen 1084/1332 and caudate head 1109/1395 ms):
    # Wright et al., MAGMA 21 (2008) 121, MPRAGE, the same subjects at 1.5 and 3 T.
    # T2 of GM and WM: Stanisz et al., MRM 54 (2005) 507 (1.5 T: 95, 72; 3 T: 99, 69 ms).
    # T2*: Peters et al., Magn Reson Imaging 25 (2007) 748 (frontal GM 84.0 / 66.0, WM
    # 66.2 / 53.2, caudate and putamen ~57 / ~36 ms at 1.5 / 3 T).
    gm = measured(0.80, (1197, 1607), (95, 99), (84.0, 66.0))
    wm = measured(0.67, (646, 838), (72, 69), (66.2, 53.2))
    # Deep grey nuclei: iron shortens T2 (more so at 3 T; Gelman et al., Radiology 210
    # (1999) 759): T2 taken as 85 % / 75 % of cortical GM.
    deep = measured(0.78, (1097, 1364), (81, 74), (57.2, 36.4))
    # CSF: T1 ~4.3 s, hardly field dependent (Rooney et al., MRM 57 (2007) 308; Lu et al.,
    # JMRI 22 (2005) 13 measured 3817 +/- 424 ms at 3 T, likely an underestimate).
    # T2 ~2 s as for water (in-vivo estimates, 0.5-2.3 s, are lowered by partial volume and
    # flow); 2000 / 1800 ms.
    csf = measured(1.0, (4300, 4300), (2000, 1800))
    # Blood (arterial, in the table; venous T2 is shorter, but flow dominates vessels on
    # spin echoes: FLOWING_BLOOD): Stanisz et al. 2005 (T1 1441 / 1932, T2 290 / 275 ms).
    blood = measured(0.87, (1441, 1932), (290, 275))
    brain = _mix(gm, wm, 0.5, field)
    table = {
        "background": Relaxation(0.0, 1000.0, 100.0, 50.0),   # air: no protons
        # Scalp (skin, galea, temporalis) as skeletal muscle: Stanisz et al. 2005
        # (T1 1008 / 1412, T2 44 / 50 ms); water content ~0.75.
        "scalp": measured(0.75, (1008, 1412), (44, 50)),
        # Subcutaneous fat: Gold et al., AJR 183 (2004) 343 (T1 343 / 382, T2 58 / 68 ms).
        # No chemical shift (fat-water displacement) is modelled.
        "fat": measured(0.90, (343, 382), (58, 68)),
        # Cortical bone: T2* ~0.3-0.5 ms in ultrashort-TE studies (Reichert et al., Magn
        # Reson Imaging 23 (2005) 611; Du et al., J Magn Reson 207 (2010) 304), so no signal
        # at clinical TEs; PD 0.05 (mostly bound water); T1 nominal (matters only for UTE).
        "skull": Relaxation(0.05, 250.0, 0.5, (0.4, 0.3)[at]),
        # Diploe = fatty marrow: Gold et al. 2004 bone marrow (T1 549 / 586, T2 49 / 49 ms);
        # T2* shortened by trabecular susceptibility, estimated 20 / 12 ms.
        "diploe": measured(0.85, (549, 586), (49, 49), (20.0, 12.0)),
        "csf": csf,
        "grey_matter": gm,
        "white_matter": wm,
        "ventricles": csf,
        "deep_grey": deep,
        # Cerebellum and brainstem are labelled as whole structures: cerebellar cortex and
        # white matter (70 / 30 %), brainstem tracts and nuclei (30 % GM / 70 % WM).
        "cerebellum": _mix(gm, wm, 0.3, field),
        "brainstem": _mix(gm, wm, 0.7, field),
        "vessels": blood,
        # Pathology, modelled as mixtures in fast exchange (rationale, not one measurement):
        # - necrosis: fluid (80 % CSF-like) with proteinaceous debris (20 % tissue): long
        #   T1 and T2 but T1 shorter than CSF, so FLAIR does not null it;
        "necrosis": _mix(brain, csf, 0.8, field),
        # - vasogenic oedema: white matter with 45 % extra extracellular water: T1, T2 ~1.6x
        #   and ~1.8x WM, bright on T2 and FLAIR, dark on T1;
        "oedema": _mix(wm, csf, 0.45, field),
        # - enhancing (viable) tumour before contrast: cellular, GM-like tissue with 15 %
        #   extra water: T1 above GM (hypo- to isointense on T1), T2 ~1.15x GM;
        "enhancing_tumour": _mix(gm, csf, 0.15, field),
        # - MS lesion (chronic, non-enhancing): T1 1.4x and T2 1.7x normal WM, the middle of
        #   the 1.3-1.5x and 1.5-2x ranges of quantitative relaxometry; PD +12 %;
        "ms_lesion": Relaxation(0.75, float(round(1.4 * wm.t1_ms)), round(1.7 * wm.t2_ms, 1),
                                round(_t2star(1.7 * wm.t2_ms, field), 1)),
        # - infarct (acute to early subacute, cytotoxic and vasogenic oedema): GM/WM with 30 %
        #   extra water, T2 ~1.4x (bright on T2 and FLAIR from ~6 h).
        "infarct": _mix(brain, csf, 0.3, field),
    }
    return table


RELAXATION: dict[float, dict[str, Relaxation]] = {1.5: _table(1.5), 3.0: _table(3.0)}

# Gadolinium concentration (mM) in each tissue a few minutes after a standard dose
# (0.1 mmol/kg). Blood: the population arterial input function of Parker et al., MRM 56
# (2006) 993 at 5 min, ~0.45 mM (whole blood; plasma 0.45 / (1 - Hct 0.45) ~ 0.8 mM).
# Enhancing tumour: extravascular-extracellular volume v_e ~0.35 plus plasma volume ~0.05
# times plasma concentration -> ~0.35 mM. Scalp (muscle, skin: v_e ~0.15) 0.12 mM, fat 0.04,
# marrow 0.15. Normal brain 0: the blood-brain barrier keeps the agent intravascular and
# slow trans-endothelial water exchange hides most of the ~4 % blood volume. Oedema,
# necrosis, chronic MS lesions and acute infarcts do not enhance here (active MS lesions and
# subacute infarcts do: pass ``concentrations_mM``).
GADOLINIUM_MM: dict[str, float] = {
    "vessels": 0.45, "enhancing_tumour": 0.35, "scalp": 0.12, "fat": 0.04, "diploe": 0.15}

# r1, r2 (1/(mM s)) in human plasma at 37 °C: Rohrer et al., Invest Radiol 40 (2005) 715.
RELAXIVITY: dict[str, dict[float, tuple[float, float]]] = {
    "gadobutrol": {1.5: (5.2, 6.1), 3.0: (5.0, 7.1)},
    "gadoterate": {1.5: (3.6, 4.3), 3.0: (3.5, 4.9)},
    "gadopentetate": {1.5: (4.1, 4.6), 3.0: (3.7, 5.2)},
    "gadodiamide": {1.5: (4.3, 5.2), 3.0: (4.0, 5.6)},
}

# Fraction of each tissue's signal from flowing blood: lost on spin echoes (spins leave the
# slice between the 90° and 180° pulses: the "flow void"), by the sequence's ``flow_void``.
FLOWING_BLOOD: dict[str, float] = {"vessels": 1.0}


def _field(field_strength_t: float) -> float:
    for f in RELAXATION:
        if abs(field_strength_t - f) < 0.05:
            return f
    raise ValueError(f"field_strength_t must be 1.5 or 3.0 (tesla), got {field_strength_t}")


def _concentrations(gadolinium, concentrations_mM) -> dict[str, float]:
    dose = float(gadolinium)
    if dose < 0:
        raise ValueError(f"gadolinium (dose relative to 0.1 mmol/kg) must be >= 0, got {dose}")
    c = {k: dose * v for k, v in GADOLINIUM_MM.items()} if dose else {}
    c.update(concentrations_mM or {})
    return c


def tissue_relaxation(name: str, field_strength_t: float, *, gadolinium: float | bool = False,
                      agent: str = "gadobutrol", concentrations_mM=None) -> Relaxation:
    """PD and relaxation times of one tissue, with contrast agent if asked.

    >>> tissue_relaxation("white_matter", 3.0).t1_ms
    838.0
    >>> round(tissue_relaxation("enhancing_tumour", 3.0, gadolinium=True).t1_ms)
    432
    """
    field = _field(field_strength_t)
    table = RELAXATION[field]
    if name not in table:
        raise ValueError(f"unknown tissue {name!r}; known: {', '.join(table)}")
    r = table[name]
    c = _concentrations(gadolinium, concentrations_mM).get(name, 0.0)
    if not c:
        return r
    r1, r2 = _relaxivity(agent, field)
    return Relaxation(r.pd, 1.0 / (1.0 / r.t1_ms + r1 * c), 1.0 / (1.0 / r.t2_ms + r2 * c),
                      1.0 / (1.0 / r.t2star_ms + r2 * c))


def _relaxivity(agent: str, field: float) -> tuple[float, float]:
    if agent not in RELAXIVITY:
        raise ValueError(f"unknown contrast agent {agent!r}; known: {', '.join(RELAXIVITY)}")
    r1, r2 = RELAXIVITY[agent][field]
    return r1 * 1e-3, r2 * 1e-3                      # 1/(mM ms)


# --- signal equations ------------------------------------------------------------------------

def _f32(*arrays):
    return [np.asarray(a, np.float32) for a in arrays]


def spin_echo(pd, t1_ms, t2_ms, tr_ms: float, te_ms: float) -> np.ndarray:
    """Spin echo: ``PD (1 - 2 e^{-(TR - TE/2)/T1} + e^{-TR/T1}) e^{-TE/T2}``.

    Exact for one 90°-180° pair with perfect pulses in the steady state (the 180° at TE/2
    inverts the recovered magnetisation); a turbo spin echo is approximated by its effective
    TE. Times in ms.

    >>> float(spin_echo(1.0, 1000.0, 100.0, tr_ms=1e9, te_ms=1e-6))
    1.0
    """
    pd, t1, t2 = _f32(pd, t1_ms, t2_ms)
    tr, te = np.float32(tr_ms), np.float32(te_ms)
    mz = 1 - 2 * np.exp(-(tr - te / 2) / t1) + np.exp(-tr / t1)
    return (pd * mz * np.exp(-te / t2)).astype(np.float32)


def gradient_echo(pd, t1_ms, t2star_ms, tr_ms: float, te_ms: float, flip_deg: float
                  ) -> np.ndarray:
    """Spoiled gradient echo (FLASH, SPGR): ``PD sin α (1 - E1) / (1 - cos α E1) e^{-TE/T2*}``,
    ``E1 = e^{-TR/T1}``. Maximal at the Ernst angle (:func:`ernst_angle_deg`).

    >>> round(float(gradient_echo(1.0, 1000.0, 50.0, 1e9, 0.0, 90.0)), 6)
    1.0
    """
    pd, t1, t2s = _f32(pd, t1_ms, t2star_ms)
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-np.float32(tr_ms) / t1)
    s = np.float32(np.sin(a)) * (1 - e1) / (1 - np.float32(np.cos(a)) * e1)
    return (pd * s * np.exp(-np.float32(te_ms) / t2s)).astype(np.float32)


def inversion_recovery(pd, t1_ms, t2_ms, tr_ms: float, te_ms: float, ti_ms: float
                       ) -> np.ndarray:
    """Inversion-recovery spin echo, magnitude:
    ``PD |1 - 2 e^{-TI/T1} + 2 e^{-(TR - TE/2)/T1} - e^{-TR/T1}| e^{-TE/T2}``.

    Exact for a 180°-TI-90°-TE/2-180° cycle repeated every TR with perfect pulses; for TE ≪ TR
    it is the familiar ``|1 - 2 e^{-TI/T1} + e^{-TR/T1}|``. Zero at
    :func:`null_inversion_time_ms`.

    >>> round(float(inversion_recovery(1.0, 1000.0, 80.0, 1e9, 0.0, 1000.0 * np.log(2))), 6)
    0.0
    """
    pd, t1, t2 = _f32(pd, t1_ms, t2_ms)
    tr, te, ti = np.float32(tr_ms), np.float32(te_ms), np.float32(ti_ms)
    mz = 1 - 2 * np.exp(-ti / t1) + 2 * np.exp(-(tr - te / 2) / t1) - np.exp(-tr / t1)
    return (pd * np.abs(mz) * np.exp(-te / t2)).astype(np.float32)


def mprage(pd, t1_ms, t2star_ms, tr_ms: float, te_ms: float, ti_ms: float, flip_deg: float,
           echo_spacing_ms: float, train_length: int) -> np.ndarray:
    """MPRAGE (3D inversion-prepared spoiled gradient echo), magnitude at the centre of
    k-space.

    Every ``tr_ms`` a perfect inversion, then ``train_length`` readouts ``echo_spacing_ms``
    apart (flip ``flip_deg``), the centre line in the middle of the train, ``ti_ms`` after
    the inversion. The steady state of this cycle is solved exactly (as in Deichmann et al.,
    NeuroImage 12 (2000) 112): between pulses ``M ← M cos α E + 1 - E``.

    >>> wm, gm = mprage(1.0, [838.0, 1607.0], 60.0, 2300, 3.0, 900, 9, 7.0, 176)
    >>> bool(wm > 1.5 * gm)
    True
    """
    pd, t1, t2s = _f32(pd, t1_ms, t2star_ms)
    n, centre = int(train_length), int(train_length) // 2
    before = ti_ms - centre * echo_spacing_ms                 # inversion to first readout
    after = tr_ms - before - n * echo_spacing_ms              # last readout to inversion
    if before < 0 or after < 0:
        raise ValueError(f"MPRAGE timing: TI {ti_ms} ms must be >= half the train "
                         f"({centre * echo_spacing_ms:.0f} ms) and TR {tr_ms} ms must hold "
                         f"the train; lengthen TR/TI or shorten the train")
    a = np.deg2rad(flip_deg)
    r1 = np.float32(1) / t1                                   # 1/ms
    q = np.float32(np.cos(a)) * np.exp(-np.float32(echo_spacing_ms) * r1)
    m_ss = -np.expm1(-np.float32(echo_spacing_ms) * r1) / (1 - q)
    ea, ed = np.exp(-np.float32(before) * r1), np.exp(-np.float32(after) * r1)
    if np.cos(a) > 0:                  # q^k as exp(k log q): much faster than a float power
        log_q = np.float32(np.log(np.cos(a))) - np.float32(echo_spacing_ms) * r1
        qn, qc = np.exp(np.float32(n) * log_q), np.exp(np.float32(centre) * log_q)
    else:
        qn, qc = q ** n, q ** centre
    m_a = (ed * m_ss * (1 - qn) + ed * qn * (1 - ea) + 1 - ed) / (1 + ed * qn * ea)
    m_b = -ea * m_a + (1 - ea)
    m_c = m_ss + (m_b - m_ss) * qc
    s = pd * np.float32(np.sin(a)) * np.abs(m_c) * np.exp(-np.float32(te_ms) / t2s)
    return s.astype(np.float32)


def ernst_angle_deg(tr_ms: float, t1_ms: float) -> float:
    """Flip angle of maximum spoiled gradient-echo signal: ``arccos(e^{-TR/T1})``.

    >>> round(ernst_angle_deg(20.0, 1000.0), 1)
    11.4
    """
    return float(np.degrees(np.arccos(np.exp(-tr_ms / t1_ms))))


def null_inversion_time_ms(t1_ms: float, tr_ms: float = np.inf, te_ms: float = 0.0) -> float:
    """Inversion time that nulls a tissue of ``t1_ms`` in :func:`inversion_recovery`:
    ``T1 ln 2`` for TR → ∞, shorter at finite TR.

    >>> round(null_inversion_time_ms(1000.0)), round(null_inversion_time_ms(4300.0, 9000, 120))
    (693, 2467)
    """
    e = (1 + 2 * np.exp(-(tr_ms - te_ms / 2) / t1_ms) - np.exp(-tr_ms / t1_ms)) / 2
    return float(-t1_ms * np.log(e))


# --- sequences -------------------------------------------------------------------------------

Kind = Literal["spin_echo", "gradient_echo", "inversion_recovery", "mprage"]
_NEEDS = {"spin_echo": (), "gradient_echo": ("flip_deg",), "inversion_recovery": ("ti_ms",),
          "mprage": ("ti_ms", "flip_deg", "echo_spacing_ms", "train_length")}
# DICOM (0018,0020) Scanning Sequence, (0018,0021) Sequence Variant, (0018,0023) acquisition
_DICOM = {"spin_echo": (["SE"], ["SK"], "2D"), "gradient_echo": (["GR"], ["SP"], "2D"),
          "inversion_recovery": (["SE", "IR"], ["SK"], "2D"),
          "mprage": (["GR", "IR"], ["SP", "MP"], "3D")}


@dataclasses.dataclass(frozen=True)
class Sequence:
    """A pulse sequence and its timing (ms, degrees).

    ``tr_ms`` is the repetition time (for ``mprage``, between inversions); ``flow_void`` is
    the fraction of flowing blood's signal lost (spin echoes: 0.5-0.9; gradient echoes: 0).
    """

    kind: Kind
    tr_ms: float
    te_ms: float
    ti_ms: float | None = None
    flip_deg: float | None = None
    echo_spacing_ms: float | None = None
    train_length: int | None = None
    flow_void: float = 0.0

    def __post_init__(self):
        if self.kind not in _NEEDS:
            raise ValueError(f"unknown sequence kind {self.kind!r}; choose one of "
                             f"{', '.join(_NEEDS)}")
        missing = [k for k in _NEEDS[self.kind] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.kind} sequence needs {', '.join(missing)}")
        if not 0 <= self.te_ms < self.tr_ms:
            raise ValueError(f"need 0 <= TE < TR, got TE {self.te_ms} ms, TR {self.tr_ms} ms")
        if self.ti_ms is not None and not 0 < self.ti_ms < self.tr_ms:
            raise ValueError(f"need 0 < TI < TR, got TI {self.ti_ms} ms, TR {self.tr_ms} ms")
        if self.flip_deg is not None and not 0 < self.flip_deg <= 180:
            raise ValueError(f"flip_deg must be in (0, 180], got {self.flip_deg}")
        if not 0 <= self.flow_void <= 1:
            raise ValueError(f"flow_void must be in [0, 1], got {self.flow_void}")

    def attributes(self) -> dict:
        """The acquisition in DICOM attribute keywords (times in ms, angle in degrees)."""
        scanning, variant, dims = _DICOM[self.kind]
        out = {"ScanningSequence": scanning, "SequenceVariant": variant,
               "MRAcquisitionType": dims, "RepetitionTime": float(self.tr_ms),
               "EchoTime": float(self.te_ms),
               "FlipAngle": float(self.flip_deg if self.flip_deg is not None else 90.0)}
        if self.ti_ms is not None:
            out["InversionTime"] = float(self.ti_ms)
        return out


# Clinically typical brain protocols (TR/TE in ms). 1.5 T T1: spin echo 500/12; 3 T T1:
# MPRAGE with ADNI-like timing (TR 2300, TI 900, 9°, 176 readouts ~7 ms apart: WM ~1.8x GM,
# CSF dark). T1c = T1 (the contrast comes from GADOLINIUM_MM). T2: TSE 4000/100; PD: TSE
# 3000/15 (CSF below GM: not recovered at this TR); FLAIR: TSE 9000/120 with TI nulling CSF
# (T1 4300 ms) at that TR: 2467 ms; T2*: spoiled GRE 600/20, 20°. Spin echoes lose most of
# the flowing blood's signal (flow void 0.9; T1 SE 0.5: slow sinus flow).
_SE_T1 = Sequence("spin_echo", 500.0, 12.0, flow_void=0.5)
_MPRAGE = Sequence("mprage", 2300.0, 3.0, ti_ms=900.0, flip_deg=9.0, echo_spacing_ms=7.0,
                   train_length=176)
_COMMON = {
    "t2": Sequence("spin_echo", 4000.0, 100.0, flow_void=0.9),
    "pd": Sequence("spin_echo", 3000.0, 15.0, flow_void=0.9),
    "flair": Sequence("inversion_recovery", 9000.0, 120.0,
                      ti_ms=round(null_inversion_time_ms(4300.0, 9000.0, 120.0)),
                      flow_void=0.9),
    "t2star": Sequence("gradient_echo", 600.0, 20.0, flip_deg=20.0),
}
SEQUENCES: dict[str, dict[float, Sequence]] = {
    "t1": {1.5: _SE_T1, 3.0: _MPRAGE}, "t1c": {1.5: _SE_T1, 3.0: _MPRAGE},
    **{name: {1.5: s, 3.0: s} for name, s in _COMMON.items()}}


def protocol(name: str, field_strength_t: float, **overrides) -> Sequence:
    """The :data:`SEQUENCES` entry ``name`` at a field, with any field of :class:`Sequence`
    overridden (``tr_ms=...``, ``te_ms=...``, ``ti_ms=...``, ``flip_deg=...``). FLAIR's TI
    follows a changed TR or TE (CSF stays nulled) unless ``ti_ms`` is given.

    >>> protocol("flair", 3.0, tr_ms=11000).ti_ms > protocol("flair", 3.0).ti_ms
    True
    """
    if name not in SEQUENCES:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(SEQUENCES)}")
    field = _field(field_strength_t)
    seq = dataclasses.replace(SEQUENCES[name][field], **overrides)
    if name == "flair" and "ti_ms" not in overrides and ({"tr_ms", "te_ms"} & set(overrides)):
        t1_csf = RELAXATION[field]["csf"].t1_ms
        seq = dataclasses.replace(seq, ti_ms=round(null_inversion_time_ms(
            t1_csf, seq.tr_ms, seq.te_ms)))
    return seq


# --- parameter maps and images ---------------------------------------------------------------

# How strongly each parameter follows the per-tissue texture: water content moves PD, T1 and
# T2 together (PD less so).
_TEXTURE_WEIGHT = {"pd": 0.5, "t1_ms": 1.0, "t2_ms": 1.0, "t2star_ms": 1.0}
_TEXTURE_FIELDS = 3


def _lookup_ids(names) -> dict[str, int]:
    if isinstance(names, abc.Mapping):
        return {str(k): int(v) for k, v in names.items()}
    return {str(n): i for i, n in enumerate(names)}


def relaxation_maps(tissue, names, field_strength_t: float, *, rng=None,
                    heterogeneity: float = 0.03, gadolinium: float | bool = False,
                    agent: str = "gadobutrol", concentrations_mM=None, properties=None,
                    spacing_mm=1.0, texture_mm: float = 8.0) -> dict[str, np.ndarray]:
    """PD, T1, T2 and T2* volumes (float32) of a tissue map, and the flowing-blood fraction.

    Parameters
    ----------
    tissue : array_like of int
        Tissue ids, any shape.
    names : sequence of str or mapping of str to int
        Tissue name of each id (``names[id]``) or ``{name: id}``; names are keys of
        :data:`RELAXATION` or of ``properties``.
    field_strength_t : float
        1.5 or 3.0 tesla.
    rng : numpy.random.Generator, optional
        With an rng, each parameter is multiplied by ``1 + heterogeneity w ξ_t(x)``: ``ξ_t``
        a smooth zero-mean unit-variance field of its own per tissue (a mix of 3 fields with
        nodes ``texture_mm`` apart), ``w`` 0.5 for PD and 1 for relaxation times.
    heterogeneity : float
        Standard deviation of the texture (0.03: 3 %).
    gadolinium : bool or float
        Contrast agent dose relative to the standard 0.1 mmol/kg (True: 1), giving the
        :data:`GADOLINIUM_MM` concentrations: ``1/T1 = 1/T1₀ + r1 C`` (and r2 on T2, T2*).
    agent : str
        A key of :data:`RELAXIVITY`.
    concentrations_mM : mapping of str to float, optional
        Per-tissue concentrations (mM) that replace or add to the dose's.
    properties : mapping of str to Relaxation, optional
        Tissues to add or replace at this field.
    spacing_mm : float or tuple of float
        Voxel size in mm (sets the texture's scale).
    texture_mm : float
        Distance between the texture's random nodes, mm.

    Returns
    -------
    dict
        ``pd``, ``t1_ms``, ``t2_ms``, ``t2star_ms`` and ``flow`` (fraction of flowing
        blood), float32, the shape of ``tissue``.
    """
    field = _field(field_strength_t)
    table = {**RELAXATION[field], **(properties or {})}
    ids = _lookup_ids(names)
    unknown = sorted(set(ids) - set(table))
    if unknown:
        raise ValueError(f"no relaxation values for {', '.join(map(repr, unknown))} at "
                         f"{field} T; known: {', '.join(table)} (or pass properties=...)")
    tissue = np.asarray(tissue)
    size = max(ids.values()) + 1
    top = int(tissue.max()) if tissue.size else 0
    if top >= size or (tissue.size and int(tissue.min()) < 0):
        raise ValueError(f"tissue ids must be in 0..{size - 1} (the names given), found {top}")
    conc = _concentrations(gadolinium, concentrations_mM)
    r1, r2 = _relaxivity(agent, field) if conc else (0.0, 0.0)
    unnamed = sorted(set(range(size)) - set(ids.values()))
    if unnamed and tissue.size:
        present = np.flatnonzero(np.bincount(tissue.ravel(), minlength=size)[unnamed])
        if present.size:
            raise ValueError(f"tissue ids {[unnamed[i] for i in present]} have no name")
    luts = {k: np.zeros(size, np.float32) for k in (*Relaxation._fields, "flow")}
    for k, v in zip(Relaxation._fields, RELAXATION[field]["background"]):
        luts[k][:] = v                            # ids with no name (absent): no signal
    for name, i in ids.items():
        r, c = table[name], conc.get(name, 0.0)
        luts["pd"][i] = r.pd
        luts["t1_ms"][i] = r.t1_ms
        luts["t2_ms"][i] = r.t2_ms
        luts["t2star_ms"][i] = r.t2star_ms
        luts["flow"][i] = FLOWING_BLOOD.get(name, 0.0)
    index = tissue.astype(np.intp)                # once: np.take converts other dtypes
    maps = {k: np.take(v, index) for k, v in luts.items()}
    if rng is not None and heterogeneity > 0:
        fields = smooth_field(tissue.shape, rng, spacing_mm=spacing_mm,
                              correlation_mm=texture_mm, count=_TEXTURE_FIELDS)
        weights = rng.standard_normal((_TEXTURE_FIELDS, size)).astype(np.float32)
        weights /= np.linalg.norm(weights, axis=0)               # unit variance per tissue
        xi, w_map = np.zeros(tissue.shape, np.float32), np.empty(tissue.shape, np.float32)
        for f, w in zip(fields, weights):
            np.take(w, index, out=w_map)
            w_map *= f
            xi += w_map
        del fields
        factor = w_map
        for k, weight in _TEXTURE_WEIGHT.items():
            np.multiply(xi, np.float32(heterogeneity * weight), out=factor)
            factor += np.float32(1.0)
            np.maximum(factor, np.float32(0.5), out=factor)      # a 16-σ guard, no sign flip
            maps[k] *= factor
    if conc:
        c = np.zeros(size, np.float32)
        for name, i in ids.items():
            c[i] = conc.get(name, 0.0)
        cmap = np.take(c, index)
        for k, r in (("t1_ms", r1), ("t2_ms", r2), ("t2star_ms", r2)):
            rate = np.divide(np.float32(1.0), maps[k])
            rate += np.float32(r) * cmap
            np.divide(np.float32(1.0), rate, out=maps[k])
    return maps


def synthesize(maps: dict[str, np.ndarray], sequence: Sequence) -> np.ndarray:
    """The noiseless image (float32, a.u.) of ``sequence`` from :func:`relaxation_maps`.

    >>> m = {"pd": np.float32(1), "t1_ms": np.float32(4300), "t2_ms": np.float32(1800),
    ...      "t2star_ms": np.float32(190)}
    >>> round(float(synthesize(m, protocol("t2", 3.0))), 2)
    0.56
    """
    s, m = sequence, maps
    if s.kind == "spin_echo":
        out = spin_echo(m["pd"], m["t1_ms"], m["t2_ms"], s.tr_ms, s.te_ms)
    elif s.kind == "gradient_echo":
        out = gradient_echo(m["pd"], m["t1_ms"], m["t2star_ms"], s.tr_ms, s.te_ms, s.flip_deg)
    elif s.kind == "inversion_recovery":
        out = inversion_recovery(m["pd"], m["t1_ms"], m["t2_ms"], s.tr_ms, s.te_ms, s.ti_ms)
    else:
        out = mprage(m["pd"], m["t1_ms"], m["t2star_ms"], s.tr_ms, s.te_ms, s.ti_ms,
                     s.flip_deg, s.echo_spacing_ms, s.train_length)
    if s.flow_void and "flow" in m:
        out *= 1 - np.float32(s.flow_void) * m["flow"]
    return out
