"""FDG PET-like physics: uptake table, PSF width, Poisson statistics."""

import numpy as np
import pytest

from synthmed.physics.ct_tissue import TISSUE_HU, hu_map
from synthmed.physics.pet import FDG_SUV, fdg_suv, pet_acquire


def test_uptake_ordering_follows_clinical_fdg():
    s = FDG_SUV
    assert 2.5 <= s["grey_matter"] / s["white_matter"] <= 4.0      # grey:white ratio
    assert s["deep_grey"] >= 0.9 * s["grey_matter"] > s["cerebellum"] > s["white_matter"]
    assert s["enhancing_tumour"] > s["white_matter"] * 1.5          # high-grade glioma
    assert s["necrosis"] < s["oedema"] < s["white_matter"]
    assert s["csf"] < 0.5 and s["infarct"] < 0.5 * s["grey_matter"]


def test_psf_has_the_requested_fwhm():
    suv = np.zeros((9, 9, 129), np.float32)
    suv[:, :, 64] = 1.0                              # a plane: the 1D PSF along x
    out = pet_acquire(suv, (1.0, 1.0, 0.25), None, fwhm_mm=6.0)
    profile = out[4, 4]
    above = np.nonzero(profile >= profile.max() / 2)[0]
    assert (above[-1] - above[0] + 1) * 0.25 == pytest.approx(6.0, abs=0.3)
    assert profile.sum() == pytest.approx(1.0, rel=1e-3)           # activity conserved


def test_counts_are_poisson_with_the_requested_budget():
    suv = np.full((16, 64, 64), 4.0, np.float32)
    counts_per_ml, spacing = 5000.0, (2.0, 2.0, 2.0)
    out = pet_acquire(suv, spacing, np.random.default_rng(1), fwhm_mm=0.0,
                      counts_per_ml=counts_per_ml, postfilter_mm=0.0)
    mean_counts = 4.0 * 8 / 1000 * counts_per_ml                   # 160 per voxel
    assert out.mean() == pytest.approx(4.0, rel=0.01)
    assert out.var() == pytest.approx(4.0 ** 2 / mean_counts, rel=0.05)  # Poisson
    smooth = pet_acquire(suv, spacing, np.random.default_rng(1), fwhm_mm=0.0,
                         counts_per_ml=counts_per_ml, postfilter_mm=4.0)
    assert smooth.var() < 0.3 * out.var()                          # post-filter smooths


def test_maps_follow_the_names():
    names = ["background", "grey_matter", "white_matter", "skull"]
    tissue = np.array([[0, 1, 2, 3]], np.uint8)
    assert fdg_suv(tissue, names).tolist() == [[0.0, *(np.float32(FDG_SUV[n]) for n in
                                                       names[1:])]]
    assert hu_map(tissue, names).tolist() == [[TISSUE_HU[n] for n in names]]
    assert fdg_suv(tissue, names, suv={"grey_matter": 1.5})[0, 1] == 1.5
    with pytest.raises(KeyError, match="no CT number"):
        hu_map(tissue, ["background", "unobtainium"])
    with pytest.raises(ValueError):
        pet_acquire(np.zeros((2, 2, 2)), (1, 1, 1), None, fwhm_mm=-1)
