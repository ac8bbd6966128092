"""Digitally reconstructed radiographs: geometry against closed forms, orientation, HU."""

import numpy as np
import pytest
from scipy import ndimage

from synthmed.physics import drr, xray


def sphere_ct(n=48, spacing=2.0, radius_mm=30.0, centre_vox=None, hu=0.0):
    c = np.full(3, (n - 1) / 2) if centre_vox is None else np.asarray(centre_vox, float)
    z, y, x = np.ogrid[:n, :n, :n]
    d2 = ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) * spacing ** 2
    return np.where(d2 <= radius_mm ** 2, hu, -1000.0).astype(np.float32)


def test_parallel_rays_give_sphere_chords():
    n, sp, radius = 64, 1.5, 36.0
    paths = drr.path_lengths_from_ct(sphere_ct(n, sp, radius), (sp,) * 3, detector_shape=(96, 96),
                                     detector_spacing_mm=1.0, sid_mm=None)
    thickness_mm = paths["soft_tissue"] * 10 / drr.hu_to_materials(np.array(0.0))["soft_tissue"]
    rr, cc = np.mgrid[:96, :96]
    r = np.hypot(rr - 47.5, cc - 47.5)                       # mm from the central ray
    inside = r < 0.9 * radius
    chord = 2 * np.sqrt(np.maximum(radius ** 2 - r ** 2, 0))
    np.testing.assert_allclose(thickness_mm[inside], chord[inside], atol=1.6)  # ~1 voxel
    assert thickness_mm[r > radius + 2 * sp].max() == 0


def test_cone_beam_magnifies_by_sid_over_sod():
    sid, sod, radius = 1000.0, 600.0, 30.0
    paths = drr.path_lengths_from_ct(sphere_ct(48, 2.0, radius), (2.0,) * 3,
                                     detector_shape=(128, 128), detector_spacing_mm=1.0,
                                     sid_mm=sid, sod_mm=sod)
    shadow = paths["soft_tissue"] > 0.02
    diameter = shadow.any(axis=0).sum() * 1.0
    assert diameter == pytest.approx(2 * radius * sid / sod, rel=0.04)
    # the central ray crosses the full diameter
    assert paths["soft_tissue"][63:65, 63:65].mean() * 10 / 0.9615 == pytest.approx(
        2 * radius, rel=0.03)


@pytest.mark.parametrize("step_voxels", [0.5, 0.7, 1.0])
def test_tissue_up_to_the_faces_of_the_volume_counts_in_full(step_voxels):
    # a volume filled with water: each ray's path is its whole chord through the box, the
    # outer half-voxel at either face included (sampled at the edge voxel's value, not 0)
    ct = np.zeros((32, 32, 32), np.float32)
    paths = drr.path_lengths_from_ct(ct, (1, 1, 1), detector_shape=(48, 48),
                                     detector_spacing_mm=1.0, sid_mm=1000.0, sod_mm=750.0,
                                     step_voxels=step_voxels)
    water = drr.hu_to_materials(np.array(0.0))["soft_tissue"]
    central = paths["soft_tissue"][23:25, 23:25] * 10 / water
    np.testing.assert_allclose(central, 32.0, rtol=2e-3)       # mm, the box's depth


def ray_march(ct, spacing, detector_shape, pixel_mm, sid_mm, sod_mm, gantry_deg, step_mm):
    """Reference path lengths in cm: trilinear samples every ~``step_mm`` along each ray from
    where it enters the volume's box to where it leaves, the outer half-voxel at the faces
    at the edge voxel's value (scipy's map_coordinates, mode "nearest")."""
    spacing, shape = np.asarray(spacing, float), np.asarray(ct.shape)
    centre = 0.5 * (shape - 1) * spacing
    t = np.deg2rad(gantry_deg)
    beam, across = np.array([0, np.cos(t), np.sin(t)]), np.array([0, -np.sin(t), np.cos(t)])
    rows, cols = detector_shape
    v = (0.5 * (rows - 1) - np.arange(rows)) * pixel_mm
    u = (np.arange(cols) - 0.5 * (cols - 1)) * pixel_mm
    offset = v[:, None, None] * np.array([1.0, 0, 0]) + u[None, :, None] * across
    if sid_mm is None:
        origin, direction = centre + offset - 1e3 * beam, np.broadcast_to(beam, offset.shape)
    else:
        origin, direction = centre - sod_mm * beam, offset + sid_mm * beam
        direction = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        a = (-0.5 * spacing - origin) / direction
        b = ((shape - 0.5) * spacing - origin) / direction
    enter, leave = np.minimum(a, b).max(-1), np.maximum(a, b).min(-1)
    chord = np.maximum(leave - enter, 0.0)
    enter = np.where(chord > 0, enter, 0.0)                     # rays that miss the box
    n = int(np.ceil(chord.max() / step_mm))
    ts = enter[..., None] + (np.arange(n) + 0.5) / n * chord[..., None]
    coords = (origin[..., None, :] + ts[..., None] * direction[..., None, :]) / spacing
    return {name: ndimage.map_coordinates(f, coords.reshape(-1, 3).T, order=1, mode="nearest"
                                          ).reshape(rows, cols, n).sum(-1) * chord / n / 10.0
            for name, f in drr.hu_to_materials(ct).items()}


@pytest.mark.parametrize("sid_mm", [1000.0, None])
@pytest.mark.parametrize("gantry_deg", [0.0, 30.0, 90.0])
def test_plane_sampling_agrees_with_a_fine_ray_march(gantry_deg, sid_mm):
    # a smooth random volume, soft tissue to dense bone, anisotropic voxels; a detector
    # wider than the volume's shadow, so that rays also leave by the side faces or miss
    # (but none runs along a face: 1.9 mm pixels)
    rng = np.random.default_rng(1)
    ct = ndimage.gaussian_filter(rng.normal(size=(36, 40, 44)), 2.5)
    ct = (ct / ct.std() * 700.0 + 300.0).astype(np.float32)
    geometry = dict(detector_shape=(56, 56), sid_mm=sid_mm, sod_mm=700.0,
                    gantry_deg=gantry_deg)
    spacing = (2.0, 1.5, 1.5)
    ref = ray_march(ct, spacing, pixel_mm=1.9, step_mm=0.2, **geometry)
    # one sample per plane: within 1 % of the longest path (steps along an oblique ray are
    # 1 / cos of its angle to the main axis); a plane every quarter voxel: within 0.1 %
    for step_voxels, tolerance in ((1.0, 1e-2), (0.25, 1e-3)):
        paths = drr.path_lengths_from_ct(ct, spacing, detector_spacing_mm=1.9,
                                         step_voxels=step_voxels, **geometry)
        for name, expected in ref.items():
            scale = expected.max()                  # cm, the longest path through it
            error = np.abs(paths[name] - expected)
            assert error.max() < tolerance * scale, (name, step_voxels)
            assert np.median(error) < 0.1 * tolerance * scale, (name, step_voxels)


def test_orientation_head_up_and_x_to_the_right():
    n = 40
    ct = np.full((n, n, n), -1000.0, np.float32)
    ct[30:36, 18:22, 30:36] = 1000.0           # high z (towards the head), high x
    p = drr.path_lengths_from_ct(ct, (1, 1, 1), detector_shape=(40, 40),
                                 detector_spacing_mm=1.0, sid_mm=None)["bone"]
    rows, cols = np.nonzero(p > 0.05)
    assert rows.mean() < 10 and cols.mean() > 30               # top right
    lateral = drr.path_lengths_from_ct(ct, (1, 1, 1), detector_shape=(40, 40),
                                       detector_spacing_mm=1.0, sid_mm=None,
                                       gantry_deg=90.0)["bone"]
    rows, cols = np.nonzero(lateral > 0.05)
    assert rows.mean() < 10 and abs(cols.mean() - (19.5 - (20 - 19.5))) < 2  # y=20 -> u=-0.5 mm


def test_hu_calibration_is_monotonic_in_mass_density():
    hu = np.linspace(-1000, 3000, 81)
    m = drr.hu_to_materials(hu)
    density = m["soft_tissue"] * xray.MATERIALS["soft_tissue"][0] + m["bone"] * xray.MATERIALS[
        "bone"][0]
    assert np.all(np.diff(density) > 0)
    assert density[0] == 0 and density[20] == pytest.approx(1.02, abs=0.02)  # 0 HU: ~1 g/cm3
    assert drr.hu_to_materials(np.array(1500.0))["bone"] == pytest.approx(1.0)


def test_radiograph_from_ct_shows_bone_bright_and_is_consistent_with_project():
    ct = sphere_ct(48, 2.0, 40.0, hu=40.0)
    ct[20:28, 20:28, 8:16] = 1500.0                      # cortical bone block on the left
    signal, image = drr.radiograph_from_ct(ct, (2.0,) * 3, kvp=80, detector_shape=(96, 96),
                                           detector_spacing_mm=1.5, sid_mm=None, heel=False,
                                           scatter=False, blur_mm=0)
    paths = drr.path_lengths_from_ct(ct, (2.0,) * 3, detector_shape=(96, 96),
                                     detector_spacing_mm=1.5, sid_mm=None)
    direct = xray.project(paths, 1.5, 80, 2.0, None, heel=False, scatter=False, blur_mm=0)
    np.testing.assert_allclose(signal, direct, rtol=1e-5)
    rows, cols = np.nonzero(paths["bone"] > 0.5)
    soft = paths["soft_tissue"] > 5.0
    assert image[rows, cols].mean() > image[soft & (paths["bone"] == 0)].mean() + 0.1


@pytest.mark.parametrize("kwargs, message", [
    (dict(ct_hu=np.zeros((4, 4))), "3D"),
    (dict(spacing_mm=(1, 1)), "three positive"),
    (dict(sid_mm=30.0), "inside the volume"),
    (dict(step_voxels=0.0), "step_voxels"),
    # at 45°, the rays to the outer pixels run along y and along x
    (dict(sid_mm=100.0, detector_shape=(1, 3), detector_spacing_mm=100.0, gantry_deg=45.0),
     "parallel to the planes"),
])
def test_bad_geometry_is_explained(kwargs, message):
    args = dict(ct_hu=np.zeros((16, 16, 16), np.float32), spacing_mm=(2, 2, 2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        drr.path_lengths_from_ct(args.pop("ct_hu"), args.pop("spacing_mm"), **args)
