"""CT physics of synthmed.physics.ct against closed forms and references: NIST water, analytic
line integrals, scikit-image's FBP, quantum-noise scaling, kernel MTF and noise, beam
hardening, metal, fan beam and thick slices."""

import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, resize

from synthmed.physics import ct, xray


def disc_image(shape, spacing, radius_mm, centre_mm=(0.0, 0.0), semi_axes=None, sub=4):
    """Anti-aliased ellipse (``semi_axes`` = (along y, along x) mm) or disc: fraction of each
    pixel inside, by ``sub`` × ``sub`` supersampling."""
    b, a = semi_axes or (radius_mm, radius_mm)
    axes = [((np.arange(n * sub) + 0.5) / sub - n / 2) * d for n, d in zip(shape, spacing)]
    y, x = np.meshgrid(*axes, indexing="ij")
    inside = ((x - centre_mm[1]) / a) ** 2 + ((y - centre_mm[0]) / b) ** 2 < 1
    return inside.reshape(shape[0], sub, shape[1], sub).mean((1, 3))


def radius_mm(shape, spacing):
    y, x = (((np.arange(n) - (n - 1) / 2) * d) for n, d in zip(shape, spacing))
    return np.hypot(y[:, None], x[None, :])


def test_hu_mu_round_trip_and_water_matches_nist():
    hu = np.array([-1000.0, -850.0, 0.0, 40.0, 1200.0])
    np.testing.assert_allclose(ct.mu_to_hu(ct.hu_to_mu(hu, 60.0), 60.0), hu, atol=1e-3)
    assert ct.hu_to_mu(-1000.0) == 0.0
    nist = xray.linear_attenuation("water", 70) / 10          # 1/mm
    assert float(ct.hu_to_mu(0.0, 70.0)) == pytest.approx(nist, rel=0.01)
    assert float(ct.hu_to_mu(0.0, 70.0)) == pytest.approx(0.01929, rel=0.01)  # NIST XCOM


def ellipse_line_integrals(theta, s, centre, semi_axes, mu):
    """∫ μ dl of a uniform ellipse along x cos θ + y sin θ = s (closed form)."""
    (y0, x0), (b, a) = centre, semi_axes
    rho2 = (a * np.cos(theta)) ** 2 + (b * np.sin(theta)) ** 2
    d = s - (x0 * np.cos(theta) + y0 * np.sin(theta))
    return mu * 2 * a * b / rho2 * np.sqrt(np.clip(rho2 - d ** 2, 0, None))


@pytest.mark.parametrize("geometry", ["parallel", "fan"])
def test_ellipse_projection_equals_analytic_line_integrals(geometry):
    shape, spacing, mu = (120, 96), (0.8, 1.0), 0.02      # anisotropic pixels, mm
    centre, axes = (6.0, -10.0), (30.0, 22.0)             # (y, x) mm
    img = disc_image(shape, spacing, None, centre, axes) * mu
    sod, sdd, n_views = 400.0, 700.0, 90
    sino = ct.forward_project(img, spacing, n_views, geometry=geometry, sod_mm=sod, sdd_mm=sdd)
    n_det = sino.shape[1]
    k = np.arange(n_det) - (n_det - 1) / 2
    if geometry == "parallel":
        theta = np.broadcast_to(np.arange(n_views)[:, None] * np.pi / n_views, sino.shape)
        s = np.broadcast_to(k * 0.8, theta.shape)
    else:  # equiangular: ray (β, γ) is the parallel ray θ = β + γ, s = sod sin γ
        gamma = k * (0.8 * sdd / sod) / sdd
        theta = 2 * np.pi * np.arange(n_views)[:, None] / n_views + gamma
        s = np.broadcast_to(sod * np.sin(gamma), theta.shape)
    # each element integrates over its width (0.8 mm at the isocentre): average 16 rays
    exact = np.mean([ellipse_line_integrals(theta, s + 0.8 * f, centre, axes, mu)
                     for f in (np.arange(16) + 0.5) / 16 - 0.5], axis=0)
    # pixels blur the edges by up to a pixel; through the body the match is within 2 %
    through = exact > 0.5 * exact.max()
    np.testing.assert_allclose(sino[through], exact[through], rtol=0.02)
    assert np.abs(sino - exact).max() < 0.03 * exact.max()


def test_point_traces_its_sinusoid():
    img = np.zeros((64, 64), np.float32)
    img[20, 45] = 1.0                                        # row 20, column 45
    sino = ct.forward_project(img, 0.5, n_views=60)
    theta = np.arange(60) * np.pi / 60
    x, y = (45 - 31.5) * 0.5, (20 - 31.5) * 0.5              # mm from the centre
    expected = (x * np.cos(theta) + y * np.sin(theta)) / 0.5 + (sino.shape[1] - 1) / 2
    assert np.abs(sino.argmax(axis=1) - expected).max() <= 0.5 + 1e-9


def test_fbp_at_least_as_accurate_as_skimage_iradon():
    # each FBP on each projector's sinogram: same views, as many detectors as pixels; odd
    # size, so that both codes rotate about the same pixel
    n, n_views = 127, 180
    p = resize(shepp_logan_phantom(), (n, n), order=1, anti_aliasing=False)
    theta_deg = np.arange(n_views) * 180.0 / n_views
    sinograms = {"ours": ct.forward_project(p, 1.0, n_views, n_detectors=n),
                 "skimage": radon(p, theta_deg).T}

    def swap(sino):  # skimage measures along x cos θ - y sin θ: its 180° - θ is our θ, reversed
        return np.concatenate([sino[:1], sino[:0:-1, ::-1]])

    inside = radius_mm((n, n), (1.0, 1.0)) < (n - 1) / 2

    def rmse(image):
        return np.sqrt(np.mean((image - p)[inside] ** 2))

    ours = {k: rmse(ct.fbp(s if k == "ours" else swap(s), (n, n), 1.0, kernel="sharp"))
            for k, s in sinograms.items()}
    theirs = {k: rmse(iradon((swap(s) if k == "ours" else s).T, theta_deg, filter_name="ramp"))
              for k, s in sinograms.items()}
    assert theirs["ours"] < 1.5 * theirs["skimage"]     # the conversion is right
    assert ours["ours"] <= theirs["ours"] and ours["skimage"] <= theirs["skimage"]


def test_fbp_reconstructs_a_water_disc_within_5_hu():
    shape, spacing = (128, 128), 1.0
    water = -1000.0 + 1000.0 * disc_image(shape, (1.0, 1.0), 45.0)   # partial volume
    r = radius_mm(shape, (1.0, 1.0))
    # Ram-Lak keeps the Nyquist ripple of the disc's edge (Gibbs): a few pixels reach ~7 HU
    for kernel, worst_hu in (("sharp", 8.0), ("standard", 1.0)):
        hu = ct.scan_slice(water, spacing, n_views=360, kernel=kernel)
        interior = np.abs(hu[r < 0.7 * 45.0])
        assert abs(hu[r < 0.7 * 45.0].mean()) < 1.0
        assert np.percentile(interior, 95) < 5.0 and interior.max() < worst_hu


def water_cylinder(n, spacing, radius):
    return np.where(radius_mm((n, n), (spacing, spacing)) < radius, 0.0, -1000.0)


def test_noise_falls_as_one_over_sqrt_mas():
    n, spacing = 128, 1.5
    hu = water_cylinder(n, spacing, 80.0)
    clean = ct.scan_slice(hu, spacing, n_views=240)
    roi = radius_mm((n, n), (spacing, spacing)) < 60.0
    sigma = [np.std((ct.scan_slice(hu, spacing, n_views=240, mas=mas,
                                   rng=np.random.default_rng(7)) - clean)[roi])
             for mas in (25.0, 100.0, 400.0)]
    assert sigma[0] / sigma[1] == pytest.approx(2.0, rel=0.1)
    assert sigma[1] / sigma[2] == pytest.approx(2.0, rel=0.1)


def test_noise_of_a_20_cm_water_cylinder_is_clinical():
    # 120 kVp, 100 mAs, 1 mm slice, standard kernel, 0.7 mm pixels: σ ≈ 10-20 HU at the centre
    n, spacing = 320, 0.7
    hu = ct.scan_slice(water_cylinder(n, spacing, 100.0), spacing, n_views=360, kvp=120,
                       mas=100, slice_thickness_mm=1.0, rng=np.random.default_rng(3))
    centre = hu[radius_mm((n, n), (spacing, spacing)) < 25.0]
    assert 10.0 < centre.std() < 20.0
    assert abs(centre.mean()) < 3.0


def mtf50(image: np.ndarray) -> float:
    """MTF50 of a reconstructed wire (a point), as a fraction of the Nyquist frequency: the
    line spread function is the image summed along the rows."""
    lsf = image.sum(axis=0)
    mtf = np.abs(np.fft.rfft(lsf))
    mtf /= mtf[0]
    f = np.fft.rfftfreq(lsf.size) * 2
    below = np.flatnonzero(mtf < 0.5)
    if below.size == 0:
        return 1.0
    i = below[0]
    return float(np.interp(0.5, [mtf[i], mtf[i - 1]], [f[i], f[i - 1]]))


def test_kernels_trade_resolution_for_noise_in_order():
    n, spacing, n_views = 128, 1.0, 360
    wire = np.zeros((n, n), np.float32)
    wire[64, 64] = 0.5
    wire_sino = ct.forward_project(wire, spacing, n_views)
    water = ct.hu_to_mu(water_cylinder(n, spacing, 55.0))
    noisy = ct.add_quantum_noise(ct.forward_project(water, spacing, n_views), 50.0,
                                 np.random.default_rng(0), detector_spacing_mm=spacing)
    roi = radius_mm((n, n), (spacing, spacing)) < 40.0
    order = ["soft", "standard", "lung", "sharp"]
    mtf = [mtf50(ct.fbp(wire_sino, (n, n), spacing, kernel=k)) for k in order]
    noise = [np.std(ct.fbp(noisy, (n, n), spacing, kernel=k)[roi]) for k in order]
    assert mtf[0] < mtf[1] < mtf[2] <= mtf[3]
    assert noise[0] < noise[1] < noise[2] < noise[3]
    # as documented in KERNELS (window × detector aperture): MTF50 / f_Nyquist
    np.testing.assert_allclose(mtf, [0.34, 0.47, 0.81, 1.0], atol=0.03)


def test_beam_hardening_cups_water_and_streaks_between_bones():
    n, spacing = 160, 1.4
    r = radius_mm((n, n), (spacing, spacing))
    hu = water_cylinder(n, spacing, 100.0)
    centre, rim = r < 15.0, (r > 80.0) & (r < 90.0)
    for beam_hardening in (False, True):
        img = ct.scan_slice(hu, spacing, n_views=240, beam_hardening=beam_hardening)
        cupping = img[rim].mean() - img[centre].mean()
        if beam_hardening:
            assert 5.0 < cupping < 60.0
            assert abs(img[r < 90.0].mean()) < 10.0     # water calibration: ~0 HU on average
        else:
            assert abs(cupping) < 1.0
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    bones = hu.copy()
    bones[(np.hypot(y, x - 30) < 10) | (np.hypot(y, x + 30) < 10)] = 1500.0   # ±42 mm
    img = ct.scan_slice(bones, spacing, n_views=240, beam_hardening=True)
    between = img[(np.abs(y) < 2) & (np.abs(x) > 8) & (np.abs(x) < 14)].mean()
    across = img[(np.abs(x) < 2) & (np.abs(y) > 8) & (np.abs(y) < 14)].mean()  # same radius
    assert between < across - 10.0                      # the dark band joining dense objects


def test_metal_makes_streaks():
    n, spacing = 160, 1.4
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    ring = (np.hypot(y, x - 20) > 12) & (np.hypot(y, x - 20) < 25)
    std = {}
    for insert_hu in (40.0, 15000.0):                   # soft tissue, then steel-like metal
        hu = water_cylinder(n, spacing, 100.0)
        hu[np.hypot(y, x - 20) < 4] = insert_hu
        img = ct.scan_slice(hu, spacing, n_views=240, beam_hardening=True,
                            rng=np.random.default_rng(5))
        std[insert_hu] = img[ring].std()
    assert std[15000.0] > 2.0 * std[40.0]


def test_fan_beam_reconstructs_a_disc_at_its_size():
    n, spacing, radius = 128, 1.0, 45.0
    hu = np.where(disc_image((n, n), (1.0, 1.0), radius) > 0.5, 0.0, -1000.0)
    img = ct.scan_slice(hu, spacing, n_views=360, geometry="fan", sod_mm=400.0, sdd_mm=700.0)
    r = radius_mm((n, n), (spacing, spacing))
    interior = img[r < 0.7 * radius]
    assert abs(interior.mean()) < 2.0 and np.abs(interior).max() < 6.0
    measured_radius = np.sqrt((img > -500).sum() * spacing ** 2 / np.pi)
    assert measured_radius == pytest.approx(np.sqrt((hu > -500).sum() / np.pi), abs=0.3)


def test_scan_volume_makes_thick_slices():
    rng = np.random.default_rng(2)
    n = 48
    body = water_cylinder(n, 1.0, 18.0) > -1000
    vol = np.where(body, rng.uniform(-200, 200, (20, 1, 1)), -1000.0).astype(np.float32)
    out, spacing = ct.scan_volume(vol, (1.0, 1.0, 1.0), slice_thickness_mm=5.0, n_views=120)
    assert out.shape == (4, n, n) and spacing == (5.0, 1.0, 1.0)
    expected = vol.reshape(4, 5, n, n).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), expected, atol=1.0)
    gapped, spacing = ct.scan_volume(vol, (1.0, 1.0, 1.0), slice_thickness_mm=2.0,
                                     slice_increment_mm=5.0, n_views=60)
    assert gapped.shape == (4, n, n) and spacing == (5.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="multiple of the slice spacing"):
        ct.scan_volume(vol, (1.0, 1.0, 1.0), slice_thickness_mm=2.5)


def test_errors_say_what_to_choose():
    img = np.zeros((16, 16), np.float32)
    with pytest.raises(ValueError, match="choose one of soft, standard, lung, sharp"):
        ct.fbp(ct.forward_project(img, 1.0, 8), (16, 16), 1.0, kernel="bone")
    with pytest.raises(ValueError, match="'parallel' or 'fan'"):
        ct.forward_project(img, 1.0, 8, geometry="cone")
    with pytest.raises(ValueError, match="sdd_mm > sod_mm"):
        ct.forward_project(img, 1.0, 8, geometry="fan", sod_mm=5.0)
