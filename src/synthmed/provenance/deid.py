"""De-identification of real DICOM inputs before anything derived from them is written.

Every path that reads a user's DICOM file (evaluation sets, training data for learned
generators) goes through :func:`read_dicom`, which de-identifies the dataset in memory
first, so no patient identifier can reach a report, model card, dataset card or label
record.

De-identification uses ``dicognito`` (a maintained anonymiser for pydicom datasets): it
replaces the attributes of the DICOM PS3.15 basic application level confidentiality
profile that identify people, places and studies (names, IDs, birth date, addresses,
institution, accession number, physicians, operators, ...) with consistent fake values,
shifts dates and times and generates new UIDs. On top of it, private tags and curves /
overlays are removed and PatientIdentityRemoved is set to ``YES`` with the method named
in DeidentificationMethod. Burned-in text in the pixels is not removed: such images
(BurnedInAnnotation ``YES``) are refused.

Example
-------
>>> from pydicom.data import get_testdata_file
>>> import pydicom
>>> ds = deidentify(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
>>> str(ds.PatientName) != "CompressedSamples^CT1", ds.PatientIdentityRemoved
(True, 'YES')
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from synthmed.errors import SynthmedError

__all__ = ["deidentify", "read_dicom", "METHOD"]

METHOD = "dicognito PS3.15 basic profile; private tags removed"  # LO: 64 chars at most


def deidentify(ds, seed: str | None = None):
    """De-identify a pydicom ``Dataset`` in place and return it.

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset read from a real patient's file.
    seed : str, optional
        Makes the fake values reproducible (the same input gives the same output).
    """
    from dicognito.anonymizer import Anonymizer

    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        raise SynthmedError("a DICOM input has BurnedInAnnotation YES (patient details "
                            "written in the pixels); remove such images from the inputs")
    Anonymizer(seed=seed).anonymize(ds)
    ds.remove_private_tags()
    for tag in [t for t in ds.keys() if t.group & 0xFF00 in (0x5000, 0x6000)]:
        del ds[tag]  # curves and overlays can hold text
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    return ds


def read_dicom(path: str | os.PathLike) -> np.ndarray:
    """De-identify a DICOM file in memory and return its pixels as float32 in [0, 1].

    The modality rescale (slope, intercept) is applied, then values are scaled from the
    image's own minimum to its maximum; MONOCHROME1 is inverted so bright means dense.
    A multi-frame image gives its middle frame.

    Raises :class:`SynthmedError` for files that are not readable DICOM images.
    """
    import pydicom
    from pydicom.pixels import apply_modality_lut

    path = Path(path)
    try:
        ds = deidentify(pydicom.dcmread(path), seed=path.name)
        pixels = np.asarray(apply_modality_lut(ds.pixel_array, ds), np.float64)
    except SynthmedError:
        raise
    except Exception as exc:  # pydicom raises many types for broken or unsupported files
        raise SynthmedError(f"{path}: cannot read DICOM image ({exc})") from None
    if pixels.ndim == 3 and int(ds.get("NumberOfFrames", 1)) > 1:
        pixels = pixels[len(pixels) // 2]
    lo, hi = float(pixels.min()), float(pixels.max())
    scaled = (pixels - lo) / (hi - lo) if hi > lo else np.zeros_like(pixels)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return scaled.astype(np.float32)
