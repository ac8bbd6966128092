"""Editing a sample to specification: same random stream, only the asked-for change."""

import json

import numpy as np
import pytest

from synthmed.cli import main
from synthmed.dataset import open_dataset
from synthmed.edit import edit, load_provenance
from synthmed.errors import SpecError, SynthmedError
from synthmed.presets.chest_xray import ChestXrayParams
from synthmed.run.task import render
from synthmed.sample import assert_samples_equal


@pytest.fixture(scope="module")
def chest():
    return render("chest_xray", ChestXrayParams(image_size=(128, 128), mas=2.0), seed=3,
                  index=5)


def test_edit_without_change_reproduces_the_sample(chest):
    again = edit(chest, mas=2.0)
    chest_without_edits = chest.provenance.edits
    assert again.provenance.edits == {"mas": 2.0} and chest_without_edits == {}
    again.provenance.edits = {}
    assert_samples_equal(again, chest)


def test_edit_keeps_the_patient_and_changes_the_technique(chest):
    more_dose = edit(chest, mas=20.0, kvp=70.0)
    for name, mask in chest.labels.masks.items():
        assert np.array_equal(more_dose.labels.masks[name], mask)
    a, b = chest.labels.attributes, more_dose.labels.attributes
    assert {k for k in a if a[k] != b[k]} <= {"mas", "kvp"} and a.keys() == b.keys()
    assert np.abs(more_dose.image - chest.image).mean() > 0.005   # other beam, other contrast
    assert more_dose.provenance.params["mas"] == 20.0
    assert more_dose.provenance.params["age_years"] == chest.provenance.params["age_years"]


def test_edit_adds_a_finding_to_the_same_patient(chest):
    sick = edit(chest, effusion=True, effusion_side="right")
    assert sick.labels.classes["effusion"] and not chest.labels.classes["effusion"]
    assert np.array_equal(sick.labels.masks["heart"], chest.labels.masks["heart"])
    assert sick.labels.masks["effusion"].any()


def test_bad_edits_are_spec_errors(chest):
    with pytest.raises(SpecError, match="kl_grade: not a parameter of preset 'chest_xray'"):
        edit(chest, kl_grade=3)
    with pytest.raises(SpecError, match="kvp: Input should be less than or equal to 150"):
        edit(chest, kvp=500)


def test_sample_without_provenance_cannot_be_edited(chest):
    from synthmed.sample import Sample

    bare = Sample(images=dict(chest.images), spacing_mm=chest.spacing_mm, modality="DX")
    with pytest.raises(SynthmedError, match="no provenance"):
        edit(bare, mas=4.0)


def run_cli(capsys, *args):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    spec = root / "spec.yaml"
    spec.write_text("name: e\npreset: chest_xray\ncount: 2\nseed: 4\nimage_size: [96, 96]\n"
                    "params:\n  mas: 2.0\nexport: [png, npz]\n")
    main(["generate", str(spec), "-o", str(root / "out"), "--workers", "1", "-q"])
    return root / "out"


def test_cli_edit_from_any_file_of_the_sample(capsys, dataset, tmp_path):
    record = dataset / "labels" / "000001.json"
    for source in (record, next((dataset / "masks" / "000001").glob("*.png")),
                   dataset / "npz" / "000001.npz"):
        assert load_provenance(source).index == 1
    code, out, err = run_cli(capsys, "edit", dataset / "images" / "000001.png", "--set",
                             "mas=10", "--sweep", "kvp=70,90", "-o", tmp_path / "ed")
    assert code == 0, err
    ds = open_dataset(tmp_path / "ed")
    assert ds.ids == ["000001_mas-10_kvp-70", "000001_mas-10_kvp-90"]
    for sid, kvp in zip(ds.ids, (70, 90)):
        rec = json.loads((tmp_path / "ed" / "labels" / f"{sid}.json").read_text())
        assert rec["provenance"]["edits"] == {"mas": 10.0, "kvp": float(kvp)}
        assert rec["provenance"]["index"] == 1 and rec["provenance"]["seed"] == 4
    original = open_dataset(dataset)[1]
    assert np.array_equal(ds[0].labels.masks["heart"], original.labels.masks["heart"])


@pytest.mark.parametrize("args, message", [
    (["--set", "kvp=500"], "less than or equal to 150"),
    (["--set", "nonsense=1"], "not a parameter of preset"),
    (["--set", "kvp"], "expected NAME=VALUE"),
    ([], "nothing to change"),
    (["--set", "mas=3", "-f", "tiff"], "tiff"),
])
def test_cli_edit_errors_exit_2(capsys, dataset, tmp_path, args, message):
    code, _, err = run_cli(capsys, "edit", dataset / "labels" / "000000.json",
                           "-o", tmp_path / "ed", *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "ed").exists()


def test_cli_edit_of_a_missing_file_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "edit", tmp_path / "none.png", "--set", "mas=3",
                           "-o", tmp_path / "ed")
    assert code == 2 and "no such file" in err


def test_cli_edit_of_a_volume_writes_nifti_by_default(capsys, tmp_path):
    spec = tmp_path / "ct.yaml"
    spec.write_text("name: ct\npreset: lung_ct\ncount: 1\nseed: 2\nimage_size: [64, 64]\n"
                    "params:\n  n_slices: 8\n  mas: 50\nexport: [npz]\n")
    main(["generate", str(spec), "-o", str(tmp_path / "ct"), "--workers", "1", "-q"])
    code, out, err = run_cli(capsys, "edit", tmp_path / "ct" / "npz" / "000000.npz",
                             "--set", "mas=400", "-o", tmp_path / "ed")
    assert code == 0, err
    edited = open_dataset(tmp_path / "ed")[0]
    original = open_dataset(tmp_path / "ct")[0]
    assert edited.image.shape == original.image.shape and edited.units["ct"] == "HU"
    assert sorted(edited.labels.masks) == sorted(original.labels.masks)
    assert np.array_equal(edited.labels.masks["lung_left"], original.labels.masks["lung_left"])
    assert (tmp_path / "ed" / "labels" / "000000_mas-400.json").is_file()
