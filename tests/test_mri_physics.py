"""MRI physics of synthmed.physics.mri and mri_kspace against closed forms, published
relaxation times and the contrast of real scans: signal equations, protocols, parameter maps,
k-space acquisition (Gibbs, Rician noise, aliasing, motion, bias field) and random contrast."""

import dataclasses

import numpy as np
import pytest

from synthmed.physics import mri, mri_kspace

NAMES = list(mri.RELAXATION[3.0])                   # the brain phantom's 18 tissues, in order
BRAIN = ["grey_matter", "white_matter", "csf", "deep_grey", "cerebellum", "brainstem"]


def signals(field, name, **overrides):
    """{tissue: signal} of protocol ``name`` at ``field`` (one voxel per tissue)."""
    tissue = np.arange(len(NAMES), dtype=np.uint8)
    maps = mri.relaxation_maps(tissue, NAMES, field, gadolinium=name == "t1c")
    s = mri.synthesize(maps, mri.protocol(name, field, **overrides))
    return dict(zip(NAMES, s.tolist()))


# --- signal equations: closed forms ----------------------------------------------------------

def test_spin_echo_limits():
    pd, t1, t2 = 0.8, np.array([300.0, 1000.0, 4000.0]), 90.0
    np.testing.assert_allclose(mri.spin_echo(pd, t1, t2, tr_ms=1e9, te_ms=1e-6), pd, rtol=1e-6)
    tr = 500.0                                        # TE -> 0: saturation recovery
    np.testing.assert_allclose(mri.spin_echo(pd, t1, t2, tr_ms=tr, te_ms=1e-6),
                               pd * (1 - np.exp(-tr / t1)), rtol=1e-5)
    te = 100.0                                        # TR -> inf: pure T2 decay
    np.testing.assert_allclose(mri.spin_echo(pd, t1, t2, tr_ms=1e9, te_ms=te),
                               pd * np.exp(-te / t2), rtol=1e-5)


def test_gradient_echo_is_largest_at_the_ernst_angle():
    tr, t1 = 20.0, np.array([400.0, 900.0, 1600.0])
    flips = np.linspace(0.5, 90.0, 1791)
    s = mri.gradient_echo(1.0, t1[None, :], 50.0, tr, 0.0, flips[:, None])
    best = flips[np.argmax(s, axis=0)]
    expected = [mri.ernst_angle_deg(tr, t) for t in t1]
    np.testing.assert_allclose(best, expected, atol=0.1)
    np.testing.assert_allclose(expected, np.degrees(np.arccos(np.exp(-tr / t1))))


def test_inversion_recovery_nulls_at_t1_ln2_and_at_the_finite_tr_null():
    t1 = np.array([600.0, 1200.0, 4300.0])
    assert np.all(mri.inversion_recovery(1.0, t1, 80.0, 1e9, 0.0, t1 * np.log(2)) < 1e-6)
    for t in t1:                                      # finite TR, TE: the exact null
        ti = mri.null_inversion_time_ms(t, tr_ms=9000.0, te_ms=120.0)
        assert ti < t * np.log(2)
        assert mri.inversion_recovery(1.0, t, 80.0, 9000.0, 120.0, ti) < 1e-5
        assert mri.inversion_recovery(1.0, t, 80.0, 9000.0, 120.0, 0.5 * ti) > 0.05


def test_mprage_recovers_to_the_inversion_recovery_limit():
    """One 90° readout per inversion: MPRAGE is inversion recovery, |1 - 2 e^{-TI/T1} +
    e^{-TR/T1}|."""
    t1, tr, ti = np.array([800.0, 1600.0, 4300.0]), 5000.0, 700.0
    s = mri.mprage(1.0, t1, 1e9, tr, 0.0, ti, 90.0, echo_spacing_ms=1e-3, train_length=1)
    np.testing.assert_allclose(s, np.abs(1 - 2 * np.exp(-ti / t1) + np.exp(-tr / t1)),
                               rtol=1e-4)


# --- tissue table against the cited publications ----------------------------------------------

def test_table_values_match_the_cited_publications():
    r15, r3 = mri.RELAXATION[1.5], mri.RELAXATION[3.0]
    # Wright et al. MAGMA 2008 (MPRAGE): WM 646 / 838, GM 1197 / 1607 ms at 1.5 / 3 T
    assert r3["white_matter"].t1_ms == pytest.approx(838, rel=0.1)
    assert r3["grey_matter"].t1_ms == pytest.approx(1607, rel=0.1)
    assert r15["white_matter"].t1_ms == pytest.approx(646, rel=0.1)
    assert r15["grey_matter"].t1_ms == pytest.approx(1197, rel=0.1)
    # Stanisz et al. MRM 2005: T2 WM 69, GM 99 ms at 3 T; blood T1 1932 ms at 3 T
    assert r3["white_matter"].t2_ms == pytest.approx(69, rel=0.1)
    assert r3["grey_matter"].t2_ms == pytest.approx(99, rel=0.1)
    assert r3["vessels"].t1_ms == pytest.approx(1932, rel=0.1)
    # Peters et al. MRI 2007: T2* GM 66.0, WM 53.2 ms at 3 T
    assert r3["grey_matter"].t2star_ms == pytest.approx(66.0, rel=0.1)
    assert r3["white_matter"].t2star_ms == pytest.approx(53.2, rel=0.1)
    # Gold et al. AJR 2004: subcutaneous fat T1 343 / 382 ms
    assert r15["fat"].t1_ms == pytest.approx(343, rel=0.1)
    assert r3["fat"].t1_ms == pytest.approx(382, rel=0.1)


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_every_tissue_has_physical_values(field):
    table = mri.RELAXATION[field]
    assert list(table) == NAMES and len(NAMES) == 18
    for name, r in table.items():
        assert 0 <= r.pd <= 1, name
        assert 0 < r.t2star_ms <= r.t2_ms < r.t1_ms, name
    assert table["skull"].t2star_ms < 1.0                      # no signal at clinical TE
    # relaxation slows at higher field: T1 longer at 3 T for every soft tissue
    for name in ("grey_matter", "white_matter", "deep_grey", "fat", "vessels", "oedema"):
        assert mri.RELAXATION[3.0][name].t1_ms > mri.RELAXATION[1.5][name].t1_ms


def test_gadolinium_follows_the_relaxivity_equation():
    r1, r2 = mri.RELAXIVITY["gadobutrol"][3.0]
    c = mri.GADOLINIUM_MM["enhancing_tumour"]
    before = mri.tissue_relaxation("enhancing_tumour", 3.0)
    after = mri.tissue_relaxation("enhancing_tumour", 3.0, gadolinium=True)
    assert 1000 / after.t1_ms == pytest.approx(1000 / before.t1_ms + r1 * c, rel=1e-9)
    assert 1000 / after.t2_ms == pytest.approx(1000 / before.t2_ms + r2 * c, rel=1e-9)
    for name in ("grey_matter", "white_matter", "csf", "oedema"):       # blood-brain barrier
        assert mri.tissue_relaxation(name, 3.0, gadolinium=True) == mri.RELAXATION[3.0][name]
    half = mri.tissue_relaxation("enhancing_tumour", 3.0, gadolinium=0.5)
    assert after.t1_ms < half.t1_ms < before.t1_ms


# --- contrast as in real scans -----------------------------------------------------------------

@pytest.mark.parametrize("field", [1.5, 3.0])
def test_contrast_ordering_matches_clinical_images(field):
    t1, t2 = signals(field, "t1"), signals(field, "t2")
    assert t1["white_matter"] > t1["grey_matter"] > t1["csf"]
    assert t1["fat"] > t1["white_matter"] and t1["diploe"] > t1["white_matter"]
    assert t2["csf"] > t2["grey_matter"] > t2["white_matter"]
    assert t2["oedema"] > t2["grey_matter"]

    flair = signals(field, "flair")
    assert flair["csf"] < 0.05 * flair["white_matter"]                   # CSF nulled
    assert flair["ventricles"] == min(flair[n] for n in BRAIN + ["ventricles"])
    assert flair["grey_matter"] > flair["white_matter"]
    for lesion in ("oedema", "ms_lesion", "infarct"):
        assert flair[lesion] > 1.25 * max(flair["grey_matter"], flair["white_matter"]), lesion

    # PD at TR 3000 ms: GM > WM and CSF intermediate (it has not recovered: T1 4.3 s), as on
    # clinical dual-echo PD; at long TR the order is that of proton density, CSF >= GM > WM.
    pd = signals(field, "pd")
    assert pd["grey_matter"] > pd["white_matter"]
    assert 0.7 < pd["csf"] / pd["grey_matter"] < 1.0
    pd_long = signals(field, "pd", tr_ms=8000.0)
    assert pd_long["csf"] >= pd_long["grey_matter"] > pd_long["white_matter"]

    t1c = signals(field, "t1c")
    assert t1c["enhancing_tumour"] > 1.5 * t1["enhancing_tumour"]
    assert t1c["enhancing_tumour"] > t1c["white_matter"]
    for name in ("grey_matter", "white_matter", "csf", "oedema", "necrosis"):
        assert t1c[name] == pytest.approx(t1[name]), name

    t2s = signals(field, "t2star")
    assert t2s["deep_grey"] < t2s["grey_matter"]                        # iron
    assert t2s["skull"] < 1e-3 * t2s["white_matter"]


def test_spin_echoes_show_a_flow_void_gradient_echoes_do_not():
    t2, t2s = signals(3.0, "t2"), signals(3.0, "t2star")
    assert t2["vessels"] < 0.5 * t2["white_matter"]
    assert t2s["vessels"] > t2s["white_matter"]


def test_protocols_and_overrides():
    assert mri.protocol("t1", 1.5) == mri.Sequence("spin_echo", 500.0, 12.0, flow_void=0.5)
    assert mri.protocol("t1c", 3.0) == mri.protocol("t1", 3.0)
    assert mri.protocol("t1", 3.0).kind == "mprage"
    t2 = mri.protocol("t2", 3.0, te_ms=90.0)
    assert (t2.tr_ms, t2.te_ms) == (4000.0, 90.0)
    flair = mri.protocol("flair", 1.5, tr_ms=11000.0)                   # TI follows TR
    assert flair.ti_ms == round(mri.null_inversion_time_ms(4300.0, 11000.0, 120.0))
    assert mri.protocol("flair", 3.0, ti_ms=2000.0).ti_ms == 2000.0
    assert mri.protocol("t2star", 3.0).attributes() == {
        "ScanningSequence": ["GR"], "SequenceVariant": ["SP"], "MRAcquisitionType": "2D",
        "RepetitionTime": 600.0, "EchoTime": 20.0, "FlipAngle": 20.0}
    with pytest.raises(ValueError, match="needs ti_ms"):
        mri.Sequence("inversion_recovery", 9000.0, 120.0)
    with pytest.raises(ValueError, match="TE < TR"):
        mri.protocol("t2", 3.0, te_ms=5000.0)
    with pytest.raises(ValueError, match="1.5 or 3.0"):
        mri.protocol("t2", 7.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mri.protocol("t2", 3.0).tr_ms = 1.0


# --- parameter maps --------------------------------------------------------------------------

def test_relaxation_maps_lookup_texture_and_names():
    tissue = np.zeros((24, 48, 48), np.uint8)
    tissue[:, :24] = NAMES.index("grey_matter")
    tissue[:, 24:] = NAMES.index("white_matter")
    flat = mri.relaxation_maps(tissue, NAMES, 3.0)
    assert set(flat) == {"pd", "t1_ms", "t2_ms", "t2star_ms", "flow"}
    assert all(v.dtype == np.float32 and v.shape == tissue.shape for v in flat.values())
    assert np.all(flat["t1_ms"][:, :24] == 1607) and np.all(flat["t1_ms"][:, 24:] == 838)
    by_id = mri.relaxation_maps(tissue, {"grey_matter": 6, "white_matter": 7}, 3.0)
    np.testing.assert_array_equal(by_id["t2_ms"], flat["t2_ms"])

    a = mri.relaxation_maps(tissue, NAMES, 3.0, rng=np.random.default_rng(3))
    b = mri.relaxation_maps(tissue, NAMES, 3.0, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a["t1_ms"], b["t1_ms"])
    rel = a["t1_ms"] / flat["t1_ms"]
    for region in (rel[:, :24], rel[:, 24:]):
        assert abs(region.mean() - 1) < 0.02 and 0.01 < region.std() < 0.05
    assert abs(np.diff(rel[:, 2:22], axis=2)).max() < 0.04        # smooth: white noise ~0.15
    with pytest.raises(ValueError, match="no relaxation values for 'tumor'"):
        mri.relaxation_maps(tissue, ["background", "tumor"], 3.0)
    with pytest.raises(ValueError, match="tissue ids must be in 0..1"):
        mri.relaxation_maps(tissue, ["background", "csf"], 3.0)
    with pytest.raises(ValueError, match=r"tissue ids \[6\] have no name"):
        mri.relaxation_maps(tissue, {"white_matter": 7}, 3.0)


# --- k-space acquisition -----------------------------------------------------------------------

def disc(n=256, radius=60.0):
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    return (np.hypot(y, x) < radius).astype(np.float32), np.hypot(y, x)


def test_acquire_at_the_voxel_size_returns_the_input():
    img = np.random.default_rng(0).random((8, 32, 24), dtype=np.float32)
    spacing = (3.0, 1.0, 0.8)
    np.testing.assert_array_equal(mri.acquire(img, spacing, resolution_mm=spacing), img)
    out = mri.acquire(img, spacing, resolution_mm=(3.0, 0.5, 0.8), phase_axis=1)
    assert out.dtype == np.float32 and out.shape == img.shape
    np.testing.assert_allclose(out, img, atol=1e-5)          # finer than the grid: the grid


def test_gibbs_overshoot_of_a_step_edge():
    """Truncating k-space rings at a sharp edge: ~8.9 % of the step for a continuous step
    (Gibbs); a step sampled on a grid only 2x finer than the acquisition rings less (6.8 %),
    the grid having band-limited it already."""
    fine = np.zeros((2, 2048), np.float32)
    fine[:, 512:1536] = 1.0                                   # 0.125 mm grid, 1 mm acquired
    out = mri.acquire(fine, 0.125, resolution_mm=(0.125, 1.0))
    assert 0.08 < out.max() - 1.0 < 0.10
    coarse = np.zeros((2, 512), np.float32)
    coarse[:, 128:384] = 1.0                                  # 1 mm grid, 2 mm acquired
    out = mri.acquire(coarse, 1.0, resolution_mm=(1.0, 2.0))
    assert out.max() - 1.0 == pytest.approx(0.068, abs=0.002)
    assert out[0, 115:126].max() > 0.02                       # ringing outside the object


def test_rician_noise_background_rayleigh_and_requested_snr():
    img, r = disc()
    out = mri.acquire(img, 1.0, np.random.default_rng(1), snr=25.0)
    background, inside = out[r > 90], out[r < 50]
    assert background.mean() / background.std() == pytest.approx(1.913, abs=0.1)
    assert inside.mean() / inside.std() == pytest.approx(25.0, rel=0.1)
    sigma = mri_kspace.reference_signal(img) / 25.0           # Rayleigh mean = σ √(π/2)
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.05)
    low = mri.acquire(img, 1.0, np.random.default_rng(1), snr=25.0, resolution_mm=2.0)
    assert low[r < 50].mean() / low[r < 50].std() == pytest.approx(25.0, rel=0.1)


def test_undersampling_without_calibration_ghosts_at_half_the_fov_along_phase():
    img = np.zeros((4, 128, 128), np.float32)
    img[:, 20:44, 50:80] = 1.0
    out = mri.acquire(img, 1.0, acceleration=2, calibration_lines=0)
    np.testing.assert_allclose(out[:, 20:44, 50:80], 0.5, atol=1e-4)   # two halves
    np.testing.assert_allclose(out[:, 84:108, 50:80], 0.5, atol=1e-4)  # + FOV/2 along y
    assert out[:, 20:44, 114:].max() < 1e-4                            # nothing along x
    full = mri.acquire(img, 1.0, acceleration=2, calibration_lines=24)
    assert full[:, 84:108, 50:80].mean() < 0.15                        # centre restores most


def test_partial_fourier_blurs_along_phase_only():
    img = np.zeros((128, 128), np.float32)
    img[40:88, 40:88] = 1.0
    out = mri.acquire(img, 1.0, partial_fourier=0.625)
    row_edge, col_edge = np.abs(np.diff(out[64])).max(), np.abs(np.diff(out[:, 64])).max()
    assert row_edge > 0.9 and col_edge < 0.8


def test_bias_field_zero_changes_nothing_and_positive_is_smooth():
    img = np.ones((16, 64, 64), np.float32)
    rng = np.random.default_rng(2)
    np.testing.assert_array_equal(mri.acquire(img, 2.0, rng, bias_field=0.0), img)
    out = mri.acquire(img, 2.0, rng, bias_field=0.4)
    assert out.max() - out.min() == pytest.approx(0.4, abs=1e-4)
    assert abs(out.max() + out.min() - 2) < 1e-4
    assert max(np.abs(np.diff(out, 2, axis=a)).max() for a in range(3)) < 1e-3
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        mri.acquire(img, 2.0, rng, bias_field=2.5)


def test_motion_ghosts_lie_along_the_phase_axis():
    img = np.zeros((8, 128, 128), np.float32)
    img[:, 44:84, 44:84] = 1.0
    out = mri.acquire(img, 1.0, np.random.default_rng(5), motion=2.0, phase_axis=1)
    along_phase = out[:, np.r_[0:30, 98:128], 44:84]
    along_read = out[:, 44:84, np.r_[0:30, 98:128]]
    assert (along_phase ** 2).sum() > 20 * (along_read ** 2).sum()
    assert (along_phase ** 2).sum() > 1.0
    still = mri.acquire(img, 1.0, np.random.default_rng(5), motion=0.0)
    np.testing.assert_array_equal(still, img)


def test_slice_profile_averages_thin_slices():
    v = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(mri.slice_profile(v, 2), [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(mri.slice_profile(v, 2, axis=1), [[0.5], [2.5], [4.5],
                                                                     [6.5], [8.5], [10.5]])
    with pytest.raises(ValueError, match="multiple of 4"):
        mri.slice_profile(v, 4)


# --- domain randomisation --------------------------------------------------------------------

def label_map():
    z, y, x = np.mgrid[:32, :40, :48]
    r = np.sqrt((z - 16) ** 2 + (y - 20) ** 2 + (x - 24) ** 2)
    return np.clip(r // 3, 0, 7).astype(np.uint8)


def test_random_contrast_reproducible_and_in_range():
    labels = label_map()
    a = mri.random_contrast(labels, np.random.default_rng(4), spacing_mm=(2.0, 1.0, 1.0))
    b = mri.random_contrast(labels, np.random.default_rng(4), spacing_mm=(2.0, 1.0, 1.0))
    c = mri.random_contrast(labels, np.random.default_rng(5), spacing_mm=(2.0, 1.0, 1.0))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == labels.shape
    assert a.min() == 0.0 and a.max() == 1.0 and c.min() >= 0.0 and c.max() <= 1.0
    for label in range(8):
        m = labels == label
        assert abs(a[m].mean() - c[m].mean()) > 1e-3, label


def test_random_contrast_without_blur_keeps_each_label_its_own_gaussian():
    labels = label_map()
    rng = np.random.default_rng(6)
    flat = mri.random_contrast(labels, rng, std_range=(0.0, 0.0), blur_mm=(0.0, 0.0),
                               bias_field=0.0, gamma=0.0)
    values = [np.unique(flat[labels == k]) for k in range(8)]
    assert all(v.size == 1 for v in values)                   # one value per label, exactly
    assert len({float(v[0]) for v in values}) == 8
    noisy = mri.random_contrast(labels, np.random.default_rng(6), std_range=(0.02, 0.05),
                                blur_mm=(0.0, 0.0), bias_field=0.0, gamma=0.0)
    for k in range(8):                                        # centred on the same means
        m = labels == k
        spread = noisy[m].std()
        assert spread < 0.2
        if m.sum() > 2000:                                    # symmetric (Gaussian) per label
            z = (noisy[m] - noisy[m].mean()) / spread
            assert abs(np.mean(z ** 3)) < 0.25 and abs(np.mean(z ** 4) - 3) < 0.5
    means = np.array([noisy[labels == k].mean() for k in range(8)])
    levels = np.array([v[0] for v in values])
    assert np.corrcoef(means, levels)[0, 1] > 0.99            # same mixture means


def test_random_contrast_blur_and_bias_change_the_image():
    labels = label_map()
    base = dict(std_range=(0.0, 0.0), gamma=0.0)
    sharp = mri.random_contrast(labels, np.random.default_rng(7), blur_mm=(0.0, 0.0),
                                bias_field=0.0, **base)
    blurred = mri.random_contrast(labels, np.random.default_rng(7), blur_mm=(1.5, 2.0),
                                  bias_field=0.0, **base)
    assert np.abs(np.diff(blurred, axis=2)).max() < np.abs(np.diff(sharp, axis=2)).max()
    biased = mri.random_contrast(labels, np.random.default_rng(7), blur_mm=(0.0, 0.0),
                                 bias_field=0.5, **base)
    assert max(np.unique(biased[labels == k]).size for k in range(8)) > 1


def test_fourier_downsample_keeps_mean_and_block_centres():
    y, x = np.mgrid[0:96, 0:96]
    fine = np.exp(-((y - 40.0) ** 2 + (x - 57.0) ** 2) / (2 * 6.0 ** 2)).astype(np.float32)
    out = mri.fourier_downsample(fine, 2)
    assert out.shape == (48, 48) and out.dtype == np.float32
    assert out.mean() == pytest.approx(fine.mean(), rel=1e-5)
    cy, cx = (float((out * g).sum() / out.sum()) for g in np.mgrid[0:48, 0:48])
    # coarse voxel j is centred on fine voxels 2j and 2j + 1, i.e. fine coordinate 2j + 0.5
    assert (2 * cy + 0.5, 2 * cx + 0.5) == pytest.approx((40.0, 57.0), abs=0.01)
    step = np.zeros((8, 256), np.float32)
    step[:, 64:192] = 1.0
    coarse = mri.fourier_downsample(step, 4, axes=(1,))
    assert coarse.shape == (8, 64)
    assert np.allclose(coarse[:, 24:40], 1.0, atol=0.01) and np.allclose(coarse[:, :8], 0,
                                                                          atol=0.01)
    with pytest.raises(ValueError, match="dividing"):
        mri.fourier_downsample(np.zeros((9, 9)), 2)
