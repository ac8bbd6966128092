"""`synthmed push` to a real Orthanc (Debian's orthanc + orthanc-dicomweb), checked by QIDO-RS.

``make test`` installs Orthanc; without it these tests skip, except under CI where a missing
server is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomweb_client import DICOMwebClient

import synthmed
from synthmed.cli import main
from synthmed.errors import SynthmedError
from synthmed.push import push as push_files
from synthmed.run.task import write_files
from synthmed.sample import Labels, Provenance, Sample
from synthmed.spec import parse_spec
from orthanc_server import ORTHANC, PLUGIN, free_port, running_orthanc
from test_dicom import DCIODVFY, validate

SYNTHMED = [sys.executable, "-m", "synthmed.cli"]
SPEC = ("name: pacs\npreset: chest_xray\ncount: 2\nseed: 4\nimage_size: [64, 64]\n"
        "params:\n  nodule: {bernoulli: 0.5}\nexport: [dicom]\n")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """A fresh Orthanc with the DICOMweb plugin on a free local port; yields its DICOMweb root."""
    if ORTHANC is None or PLUGIN is None:
        missing = "the Orthanc binary" if ORTHANC is None else "the Orthanc DICOMweb plugin"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is missing; `make test` installs orthanc orthanc-dicomweb")
        pytest.skip(f"{missing} is not installed (apt-get install orthanc orthanc-dicomweb)")
    try:
        with running_orthanc(tmp_path_factory.mktemp("orthanc")) as url:
            yield f"{url}/dicom-web"
    except RuntimeError as exc:
        pytest.fail(str(exc))


def ct_sample(index: int) -> Sample:
    """8 slices of 32 x 32 (2 x 1 x 1 mm) in integer HU: water with a bone sphere and its mask."""
    z, y, x = np.indices((8, 32, 32)) * np.reshape((2.0, 1.0, 1.0), (3, 1, 1, 1))
    sphere = (z - 7) ** 2 + (y - 16) ** 2 + (x - 16) ** 2 < 6.0 ** 2
    hu = np.where(sphere, 700.0, 0.0).astype(np.float32)
    return Sample(images={"ct": hu}, spacing_mm=(2.0, 1.0, 1.0), modality="CT",
                  units={"ct": "HU"},
                  labels=Labels(masks={"bone": sphere}, label_table={"bone": 1}),
                  provenance=Provenance(preset="e2e_ct", seed=4, index=index))


def push(root: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(SYNTHMED + ["push", str(root), "--dicomweb", url, "-q", *extra],
                          capture_output=True, text=True, timeout=120)


def test_push_then_find_every_study_series_and_instance(tmp_path, orthanc):
    root = synthmed.generate(parse_spec(SPEC), tmp_path / "ds", workers=1, progress=False)
    write_files(ct_sample(2), root, "000002", ["dicom"])  # no CT preset yet: a hand-made volume
    files = sorted(root.glob("dicom/*/**/*.dcm"))
    assert len(files) == 2 * 2 + 8 + 1  # 2 x (DX + SEG), 8 CT slices + SEG
    studies = sorted({str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID)
                      for p in files})
    if DCIODVFY or os.environ.get("CI"):  # what the real preset writes is valid DICOM too
        assert [(p.name, e) for p in files for e in validate(p)[0]] == []

    res = push(root, orthanc, "--batch", "5", "--query")
    assert res.returncode == 0, res.stderr
    assert "pushed 13 DICOM files (3 studies)" in res.stdout
    assert "3 studies, 6 series and 13 instances" in res.stdout.replace("\n", " ")

    client = DICOMwebClient(orthanc)
    found = [study for index in range(3)  # PatientID SYN-{seed}-{index}
             for study in client.search_for_studies(
                 search_filters={"PatientID": f"SYN-4-{index}"})]
    assert sorted(s["0020000D"]["Value"][0] for s in found) == studies
    modalities = Counter()
    for uid in studies:
        for series in client.search_for_series(search_filters={"StudyInstanceUID": uid}):
            modality = series["00080060"]["Value"][0]
            n = len(client.search_for_instances(search_filters={
                "StudyInstanceUID": uid, "SeriesInstanceUID": series["0020000E"]["Value"][0]}))
            modalities[modality] += n
    assert modalities == {"DX": 2, "SEG": 3, "CT": 8}

    again = push(root, orthanc, "--query")  # same UIDs: the server keeps one copy
    assert again.returncode == 0, again.stderr
    assert "3 studies, 6 series and 13 instances" in again.stdout.replace("\n", " ")


def push_in_process(capsys, root: Path, url: str) -> tuple[int, str]:
    """Run ``synthmed push`` in this process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(["push", str(root), "--dicomweb", url, "-q"])
    return exit_.value.code, capsys.readouterr().err


def test_push_to_a_wrong_url_exits_2_with_a_reason(tmp_path, orthanc, capsys):
    write_files(ct_sample(0), tmp_path, "000000", ["dicom"])
    code, err = push_in_process(capsys, tmp_path, orthanc.replace("/dicom-web", "/no-such-root"))
    assert code == 2 and "refused" in err and "404" in err


def test_push_to_no_server_exits_2_with_a_reason(tmp_path, capsys):
    write_files(ct_sample(0), tmp_path / "ds", "000000", ["dicom"])
    code, err = push_in_process(capsys, tmp_path / "ds", f"http://127.0.0.1:{free_port()}/x")
    assert code == 2 and "cannot reach" in err
    code, err = push_in_process(capsys, tmp_path, "http://127.0.0.1:1/dicom-web")
    assert code == 2 and "not a synthmed dataset" in err


def test_push_names_a_file_the_server_rejects(tmp_path, monkeypatch):
    root = tmp_path / "ds"
    write_files(ct_sample(0), root, "000000", ["dicom"])
    bad = pydicom.dcmread(root / "dicom/000000/ct/0003.dcm")
    item = pydicom.Dataset()
    item.ReferencedSOPInstanceUID, item.FailureReason = bad.SOPInstanceUID, 0xA700
    reply = pydicom.Dataset()
    reply.FailedSOPSequence = [item]
    monkeypatch.setattr(DICOMwebClient, "store_instances", lambda self, datasets: reply)
    with pytest.raises(SynthmedError, match=r"rejected 1 file\(s\), e.g. .*0003.dcm .*0xa700"):
        push_files(root, "http://127.0.0.1:1/dicom-web", progress=False)


def test_push_says_what_is_missing(tmp_path, monkeypatch):
    write_files(ct_sample(0), tmp_path / "nifti", "000000", ["nifti"])
    with pytest.raises(SynthmedError, match="no DICOM files.*'dicom'"):
        push_files(tmp_path / "nifti", "http://127.0.0.1:1/dicom-web")
    write_files(ct_sample(0), tmp_path / "ds", "000000", ["dicom"])
    monkeypatch.setitem(sys.modules, "dicomweb_client", None)  # not installed
    with pytest.raises(SynthmedError, match=r"pip install 'synthmed\[dicom\]'"):
        push_files(tmp_path / "ds", "http://127.0.0.1:1/dicom-web")
