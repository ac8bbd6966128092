"""Physics of synthmed.physics.xray: NIST attenuation, Beer-Lambert, quantum noise."""

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
    sig = xray.project(slab, 1.0, kvp=61, mas=1.0, rng=None, n_bins=1, noise=False,
                       blur_mm=0, scatter_fraction=0, filtration_mm_al=0, filtration_mm_cu=0)
    expected = np.exp(-xray.linear_attenuation("water", energies[0]) * x)
    np.testing.assert_allclose(sig, expected, rtol=1e-4)


def test_polychromatic_beam_hardens():
    # effective mu falls with thickness (beam hardening), so T(2x) > T(x)^2
    t = [xray.project({"soft_tissue": np.full((4, 4), d, np.float32)}, 1.0, 80, 1.0, None,
                      noise=False, blur_mm=0, scatter_fraction=0).mean() for d in (10.0, 20.0)]
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
                           scatter_fraction=0)
        var[mas] = sig.var() / sig.mean() ** 2
    assert var[1.0] / var[4.0] == pytest.approx(4.0, rel=0.1)


def test_display_is_bright_where_attenuation_is_high():
    pl = np.zeros((64, 64), np.float32)
    pl[:, 32:] = 20.0
    sig = xray.project({"soft_tissue": pl + 5}, 1.0, 110, 2.0, np.random.default_rng(0))
    img = xray.display(sig, 1.0)
    assert img.dtype == np.float32 and img.min() >= 0 and img.max() <= 1
    assert img[:, 40:].mean() > img[:, :24].mean() + 0.3
