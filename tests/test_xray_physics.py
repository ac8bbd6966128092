"""Physics of synthmed.physics.xray against reference values: NIST attenuation, spekpy
spectra (HVL, kerma, step-wedge transmission), Beer-Lambert, noise, scatter, heel, MTF."""

import numpy as np
import pytest

from synthmed.physics import xray


def test_water_attenuation_matches_nist():
    assert xray.mass_attenuation("H2O", 60) == pytest.approx(0.2059, rel=0.01)  # NIST XCOM


@pytest.mark.parametrize("energy_kev, nist", [(60, 0.3148), (100, 0.1855)])
def test_cortical_bone_matches_nist(energy_kev, nist):
    # NIST SRD 126, "Bone, Cortical (ICRU-44)", cm^2/g
    assert xray.mass_attenuation("bone", energy_kev) == pytest.approx(nist, rel=0.02)


def test_bone_attenuates_more_than_soft_tissue_and_lung():
    e = np.array([40.0, 60.0, 80.0])
    mu_bone, mu_soft, mu_lung = (xray.linear_attenuation(m, e) for m in ("bone", "soft_tissue", "lung"))
    assert np.all(mu_bone > 1.5 * mu_soft) and np.all(mu_soft > 3 * mu_lung)


def test_monoenergetic_slab_follows_beer_lambert():
    # a single narrow bin makes the beam (nearly) monoenergetic: T = exp(-mu x)
    x = 10.0
    slab = {"water": np.full((16, 16), x, np.float32)}
    energies, _ = xray.spectrum(61, n_bins=1, filtration_mm_al=0.0, filtration_mm_cu=0.0)
    sig = xray.project(slab, 1.0, kvp=61, mas=1.0, rng=None, n_bins=1, noise=False, heel=False,
                       blur_mm=0, scatter=False, filtration_mm_al=0, filtration_mm_cu=0)
    expected = np.exp(-xray.linear_attenuation("water", energies[0]) * x)
    np.testing.assert_allclose(sig, expected, rtol=1e-4)


def test_polychromatic_beam_hardens():
    # effective mu falls with thickness (beam hardening), so T(2x) > T(x)^2
    t = [xray.project({"soft_tissue": np.full((4, 4), d, np.float32)}, 1.0, 80, 1.0, None,
                      noise=False, blur_mm=0, scatter=False).mean() for d in (10.0, 20.0)]
    assert t[1] > t[0] ** 2


def test_higher_kvp_transmits_more():
    slab = {"soft_tissue": np.full((4, 4), 20.0, np.float32)}
    lo, hi = (xray.project(slab, 1.0, kv, 1.0, None, noise=False).mean() for kv in (60, 120))
    assert hi > lo


def test_noise_variance_scales_inverse_with_mas():
    slab = {"soft_tissue": np.full((256, 256), 15.0, np.float32)}
    var = {}
    for mas in (1.0, 4.0):
        sig = xray.project(slab, 0.5, 100, mas, np.random.default_rng(1), blur_mm=0,
                           scatter=False, heel=False, electronic_noise=0)
        var[mas] = sig.var() / sig.mean() ** 2
    assert var[1.0] / var[4.0] == pytest.approx(4.0, rel=0.1)


def test_display_is_bright_where_attenuation_is_high():
    pl = np.zeros((64, 64), np.float32)
    pl[:, 32:] = 20.0
    sig = xray.project({"soft_tissue": pl + 5}, 1.0, 110, 2.0, np.random.default_rng(0))
    img = xray.display(sig, 1.0)
    assert img.dtype == np.float32 and img.min() >= 0 and img.max() <= 1
    assert img[:, 40:].mean() > img[:, :24].mean() + 0.3


# --- spectra: spekpy is the reference ------------------------------------------------------

def _spek(kvp, al, cu=0.0):
    import spekpy

    s = spekpy.Spek(kvp=kvp, th=12)
    s.filter("Al", al)
    if cu:
        s.filter("Cu", cu)
    return s


@pytest.mark.parametrize("kvp, al, cu", [(60, 2.5, 0.0), (80, 2.5, 0.0), (120, 3.0, 0.1)])
def test_half_value_layer_matches_spekpy(kvp, al, cu):
    # our HVL: NIST Al attenuation (xraydb) and air mu_en applied to the binned spectrum
    e, w = xray.spectrum(kvp, n_bins=2 * kvp, filtration_mm_al=al, filtration_mm_cu=cu)
    assert xray.half_value_layer_mm_al(e, w) == pytest.approx(_spek(kvp, al, cu).get_hvl1(),
                                                              rel=0.02)


def test_fluence_gives_spekpy_air_kerma():
    # air kerma from our fluence and NIST mu_en of air equals spekpy's, in uGy per mAs at 1 m
    import spekpy

    kvp, al = 80, 2.5
    k, phi = spekpy.Spek(kvp=kvp, th=12).filter("Al", al).get_spectrum(edges=False)
    e, w = xray.spectrum(kvp, n_bins=160, filtration_mm_al=al)
    fluence = xray.fluence_per_mas(kvp, sid_mm=1000, filtration_mm_al=al)  # photons/mm2/mAs
    joule_per_kev, cm2_per_g_to_m2_per_kg = 1.602177e-16, 0.1
    kerma_ugy = (fluence * 1e6 * w * e * joule_per_kev
                 * xray.air_kerma_coefficient(e) * cm2_per_g_to_m2_per_kg).sum() * 1e6
    assert kerma_ugy == pytest.approx(_spek(kvp, al).get_kerma(), rel=0.03)
    assert fluence == pytest.approx(float(np.sum(phi)) * 0.5 / 100, rel=1e-6)
    # inverse-square law
    assert xray.fluence_per_mas(kvp, sid_mm=2000, filtration_mm_al=al) == pytest.approx(
        fluence / 4, rel=0.01)


def test_step_wedge_transmission_matches_spekpy_filtration():
    # an aluminium step wedge imaged with an ideal (fully absorbing) energy-integrating
    # detector: the signal of each step is spekpy's energy fluence behind that much extra Al
    steps_mm = np.array([0.0, 2.0, 5.0, 10.0, 20.0])
    wedge = {"aluminium": np.repeat(steps_mm / 10.0, 8)[None, :].repeat(4, 0).astype(np.float32)}
    sig = xray.project(wedge, 1.0, 70, 1.0, None, n_bins=120, noise=False, heel=False,
                       scatter=False, blur_mm=0, scintillator_mm=1000.0)
    measured = sig[0, ::8]
    reference = []
    for extra in steps_mm:
        k, phi = _spek(70, 2.5 + extra).get_spectrum(edges=False)
        reference.append(float(np.sum(k * phi)))
    reference = np.array(reference) / reference[0]
    np.testing.assert_allclose(measured, reference, rtol=0.03)
    # contrast between adjacent steps (what a step-wedge QA test reads) within 3 % as well
    np.testing.assert_allclose(measured[1:] / measured[:-1], reference[1:] / reference[:-1],
                               rtol=0.03)


# --- acquisition effects -------------------------------------------------------------------

def test_heel_effect_darkens_the_anode_side():
    slab = {"soft_tissue": np.full((400, 8), 5.0, np.float32)}
    sig = xray.project(slab, 1.0, 80, 1.0, None, noise=False, scatter=False, blur_mm=0)
    flat = xray.project(slab, 1.0, 80, 1.0, None, noise=False, scatter=False, blur_mm=0,
                        heel=False)
    ratio = sig[:, 0] / flat[:, 0]
    assert ratio[0] < 0.85 < 0.97 < ratio[200]      # anode (top) edge of a 40 cm field
    assert np.all(np.diff(ratio[:200]) > 0)           # rises towards the central ray


def test_scatter_to_primary_ratio_of_a_uniform_slab():
    # kernel integrates to one: the centre of a wide uniform slab has the model's SPR
    for grid in (False, True):
        slab = {"water": np.full((300, 300), 20.0, np.float32)}
        kw = dict(noise=False, heel=False, blur_mm=0)
        total = xray.project(slab, 2.0, 80, 1.0, None, scatter=True, grid=grid, **kw)[150, 150]
        primary = xray.project(slab, 2.0, 80, 1.0, None, scatter=False, **kw)[150, 150]
        spr = float(xray.scatter_to_primary_ratio(20.0, grid=grid))
        assert (total - primary) / primary == pytest.approx(spr, rel=0.1)
    assert xray.scatter_to_primary_ratio(20.0, grid=False) > 5 * xray.scatter_to_primary_ratio(
        20.0, grid=True)


def test_electronic_noise_adds_variance():
    slab = {"soft_tissue": np.full((128, 128), 25.0, np.float32)}
    kw = dict(blur_mm=0, scatter=False, heel=False)
    quiet = xray.project(slab, 0.2, 70, 0.5, np.random.default_rng(2), electronic_noise=0, **kw)
    noisy = xray.project(slab, 0.2, 70, 0.5, np.random.default_rng(2), electronic_noise=20, **kw)
    assert noisy.var() > 1.5 * quiet.var()


def test_detector_blur_has_the_stated_mtf():
    # edge spread -> line spread -> MTF, compared with exp(-2 pi^2 sigma^2 f^2)
    spacing, sigma = 0.05, 0.3
    edge = np.zeros((4, 1024), np.float32)
    edge[:, 512:] = 5.0
    sig = xray.project({"soft_tissue": edge}, spacing, 80, 1.0, None, noise=False,
                       scatter=False, heel=False, blur_mm=sigma)
    lsf = np.abs(np.diff(-np.log(sig[2])))
    spectrum = np.abs(np.fft.rfft(lsf)) / lsf.sum()
    freqs = np.fft.rfftfreq(lsf.size, d=spacing)
    for f in (0.5, 1.0, 1.5):
        i = int(np.argmin(np.abs(freqs - f)))
        assert spectrum[i] == pytest.approx(float(xray.mtf(freqs[i], sigma)), abs=0.02)


def test_contrast_medium_and_metal_attenuate_more_than_bone():
    e = 60.0
    bone = xray.linear_attenuation("bone", e)
    assert xray.linear_attenuation("iodine_contrast", e) > bone
    assert xray.linear_attenuation("titanium", e) > 2 * bone
    assert xray.linear_attenuation("stainless_steel", e) > xray.linear_attenuation("titanium", e)


def test_detector_glare_is_a_low_frequency_drop():
    # a fraction g of the signal spread over ~40 mm: MTF ~ 1 - g above ~0.05 lp/mm
    spacing, g = 0.5, 0.2
    edge = np.zeros((8, 2048), np.float32)
    edge[:, 1024:] = 5.0
    sig = xray.project({"soft_tissue": edge}, spacing, 80, 1.0, None, noise=False,
                       scatter=False, heel=False, blur_mm=0, glare=g)[4]
    lsf = np.diff(sig)
    mtf = np.abs(np.fft.rfft(lsf)) / abs(lsf.sum())
    freqs = np.fft.rfftfreq(lsf.size, d=spacing)
    band = (freqs > 0.1) & (freqs < 0.5)
    np.testing.assert_allclose(mtf[band], 1 - g, atol=0.03)
