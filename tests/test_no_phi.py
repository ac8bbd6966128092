"""No patient identifier of a real DICOM input reaches any output (reports, cards, models)."""

import gzip

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from synthmed.cli import main
from synthmed.provenance.deid import deidentify, read_dicom
from synthmed.run.local import generate
from synthmed.spec import parse_spec

PHI = {"PatientName": "Doe^Janet^Quinn", "PatientID": "MRN-48213377",
       "PatientBirthDate": "19580317", "InstitutionName": "St Elsewhere General Hospital",
       "AccessionNumber": "ACC99172635", "ReferringPhysicianName": "House^Gregory",
       "StudyInstanceUID": "1.2.826.0.1.3680043.99.48213377.1",
       "SeriesInstanceUID": "1.2.826.0.1.3680043.99.48213377.2"}
NEEDLES = [b"Doe^Janet", b"Janet", b"MRN-48213377", b"48213377", b"19580317",
           b"St Elsewhere", b"ACC99172635", b"House^Gregory"]


@pytest.fixture
def real_dicoms(tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        for key, value in PHI.items():
            setattr(ds, key, value)
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.99.48213377.3.{i}"
        ds.PixelData = (ds.pixel_array + rng.integers(0, 50, ds.pixel_array.shape)
                        ).astype(ds.pixel_array.dtype).tobytes()
        ds.save_as(folder / f"IM{i:04d}.dcm")
    assert NEEDLES[2] in (folder / "IM0000.dcm").read_bytes()   # the needles are there
    return folder


def _scan(root):
    """Every output file's bytes (gzip members decompressed) that contain a needle."""
    hits = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        hits += [(str(path), n) for n in NEEDLES if n in data or n.lower() in data.lower()]
    return hits


def test_deidentify_removes_identifiers(real_dicoms, tmp_path):
    ds = deidentify(pydicom.dcmread(real_dicoms / "IM0000.dcm"))
    ds.save_as(tmp_path / "out.dcm")
    data = (tmp_path / "out.dcm").read_bytes()
    assert not [n for n in NEEDLES if n in data]
    assert ds.PatientIdentityRemoved == "YES"
    assert str(ds.StudyInstanceUID) != PHI["StudyInstanceUID"]
    pixels = read_dicom(real_dicoms / "IM0000.dcm")
    assert pixels.shape == (128, 128) and 0 <= pixels.min() < pixels.max() <= 1


def test_no_phi_in_evaluation_outputs(real_dicoms, tmp_path):
    spec = parse_spec("name: phi\npreset: chest_xray\ncount: 8\nimage_size: [96, 96]\n")
    synth = generate(spec, tmp_path / "synth", progress=False, workers=1)
    out = tmp_path / "outputs"
    main(["evaluate", "-s", str(synth), "-r", str(real_dicoms), "-o", str(out / "report"),
          "--size", "32", "-q"])
    assert (out / "report" / "report.html").is_file()
    assert _scan(out) == []


def test_no_phi_in_learned_model_and_samples(real_dicoms, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    out = tmp_path / "outputs"
    main(["train", "--data", str(real_dicoms), "-o", str(out / "model"), "--size", "16",
          "--steps", "2", "--batch-size", "2", "--label-column", "", "-q"])
    main(["sample", str(out / "model"), "-o", str(out / "samples"), "-n", "2", "--steps", "2",
          "-q"])
    assert (out / "model" / "model_card.md").is_file()
    assert (out / "samples" / "dataset_card.md").is_file()
    assert _scan(out) == []
