"""Editing images with a trained diffusion model (SDEdit): edits reach the requested class
(a classifier trained on the training data agrees), strength 0 keeps the image and more
strength moves it further, a seed fixes the output, the CLI writes a dataset whose records
name the source, and bad requests exit 2 with a message."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from test_train_sample import SIZE, nearest_centroid, tiny_config, write_shapes  # noqa: E402

from synthmed._io import sha256_file  # noqa: E402
from synthmed.cli import main  # noqa: E402
from synthmed.dataset import open_dataset  # noqa: E402
from synthmed.errors import SynthmedError  # noqa: E402
from synthmed.learned.data import load_training_data  # noqa: E402
from synthmed.learned.edit import EDITABLE, edit_image, read_image, requested_class  # noqa: E402
from synthmed.learned.models import MODELS, ModelConfig  # noqa: E402
from synthmed.learned.sample import LoadedModel, load_model  # noqa: E402
from synthmed.learned.train import TrainParams, train  # noqa: E402

STEPS = 10  # DDIM steps over the whole schedule (fast; about strength x STEPS are run)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_training_data(write_shapes(tmp_path_factory.mktemp("shapes")), SIZE)


@pytest.fixture(scope="module")
def model_dir(data, tmp_path_factory):
    return train(data, tmp_path_factory.mktemp("model") / "m", tiny_config(data),
                 TrainParams(steps=150, batch_size=16, learning_rate=3e-3,
                             checkpoint_every=150), progress=False)


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir)


@pytest.fixture(scope="module")
def discs(tmp_path_factory):
    """Held-out disc images (another seed than the training data)."""
    held_out = load_training_data(write_shapes(tmp_path_factory.mktemp("held"), n=32, seed=1),
                                  SIZE)
    return held_out.images[held_out.class_index == 0]


def edit_all(model, images, **kw):
    return np.stack([edit_image(model, x, num_inference_steps=STEPS, index=i, **kw).image
                     for i, x in enumerate(images)])


def test_edits_reach_the_requested_class(model, data, discs):
    classify = nearest_centroid(data.images, data.class_index)
    square = data.class_names.index("square")
    before = (classify(discs) == square).mean()
    edited = edit_all(model, discs, class_name="square", strength=0.6)
    after = (classify(edited) == square).mean()
    assert before <= 0.1 and after >= 0.8, (before, after)  # chance is 0.5
    # asking for the class the image already has keeps it
    kept = edit_all(model, discs, class_name="disc", strength=0.6)
    assert (classify(kept) == square).mean() <= 0.2
    s = edit_image(model, discs[0], class_name="square", strength=0.6,
                   num_inference_steps=STEPS)
    assert s.labels.classes == {"disc": False, "square": True}
    assert s.provenance.edits == {"class": "square"}
    assert s.image.dtype == np.float32 and s.image.shape == (SIZE, SIZE)


def test_strength_zero_keeps_the_image_and_more_moves_further(model, discs):
    images = discs[:6]
    np.testing.assert_allclose(edit_all(model, images, class_name="square", strength=0.0),
                               images, atol=1e-6)
    distance = [float(np.abs(edit_all(model, images, class_name="square", strength=s)
                             - images).mean()) for s in (0.0, 0.2, 0.4, 0.7)]
    assert all(a < b for a, b in zip(distance, distance[1:], strict=False)), distance


def test_edit_is_deterministic_for_a_seed(model, discs):
    kw = dict(class_name="square", strength=0.5, num_inference_steps=STEPS)
    a, b = (edit_image(model, discs[0], seed=4, **kw) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    assert a.metadata() == b.metadata()
    assert not np.array_equal(a.image, edit_image(model, discs[0], seed=5, **kw).image)


def test_set_maps_to_a_class(model):
    assert requested_class(model, "label", "square") == "square"
    assert requested_class(model, "class", "disc") == "disc"
    with pytest.raises(SynthmedError, match="disc, square"):
        requested_class(model, "label", "triangle")
    with pytest.raises(SynthmedError, match="conditioned on 'label'"):
        requested_class(model, "colour", "red")


def write_png(path, image, bits=8):
    top = 2 ** bits - 1
    Image.fromarray(np.round(image * top).astype(np.uint8 if bits == 8 else np.uint16)).save(path)
    return path


def test_cli_edit_writes_a_dataset_with_provenance(model_dir, discs, tmp_path, capsys):
    src = write_png(tmp_path / "knee.png", np.kron(discs[0], np.ones((2, 3))), bits=16)
    out = tmp_path / "out"
    main(["edit", str(src), "--model", str(model_dir), "--set", "label=square", "-o", str(out),
          "--steps", str(STEPS), "--strength", "0.6", "--seed", "3", "-q"])
    assert "edited dataset written" in capsys.readouterr().out
    ds = open_dataset(out)
    s = ds[0]
    assert len(ds) == 1 and s.labels.classes == {"disc": False, "square": True}
    record = json.loads((out / "labels" / f"{ds.ids[0]}.json").read_text())
    params = record["provenance"]["params"]
    assert params["source"] == "knee.png" and params["source_sha256"] == sha256_file(src)
    assert params["strength"] == 0.6 and params["class"] == "square"
    assert params["model_sha256"] == load_model(model_dir).sha256
    assert record["provenance"]["seed"] == 3 and record["provenance"]["edits"] == {
        "class": "square"}
    assert (out / "manifest.jsonl").is_file() and (out / "dataset_card.md").is_file()

    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(2):
        write_png(folder / f"{i}.png", discs[i])
    main(["edit", str(folder), "--model", str(model_dir), "--sweep", "label=disc,square",
          "-o", str(tmp_path / "sweep"), "--steps", "4", "-q"])
    swept = open_dataset(tmp_path / "sweep")
    assert [(x.provenance.params["source"], x.provenance.edits["class"]) for x in swept] == [
        ("0.png", "disc"), ("0.png", "square"), ("1.png", "disc"), ("1.png", "square")]

    dicom = write_dicom(tmp_path / "Doe_scan.dcm", np.round(discs[0] * 4095))
    main(["edit", str(dicom), "--model", str(model_dir), "--set", "class=square",
          "-o", str(tmp_path / "dcm"), "--steps", "4", "-q"])
    written = [p.read_bytes() for p in (tmp_path / "dcm").rglob("*") if p.is_file()]
    assert written and not any(b"Jane" in w for w in written)  # nothing from the header


@pytest.mark.parametrize("args, message", [
    (["--set", "label=triangle"], "choose from disc, square"),
    (["--set", "colour=red"], "conditioned on 'label'"),
    (["--set", "label=square", "--strength", "1.5"], "--strength"),
    (["--set", "label=square", "--set", "class=disc"], "one class"),
])
def test_cli_bad_requests_exit_2(model_dir, discs, tmp_path, capsys, args, message):
    src = write_png(tmp_path / "a.png", discs[0])
    with pytest.raises(SystemExit) as exc:
        main(["edit", str(src), "--model", str(model_dir), "-o", str(tmp_path / "o"), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kind", [k for k in MODELS if k not in EDITABLE])
def test_kinds_without_denoising_cannot_edit(kind, discs):
    cfg = ModelConfig(model=kind, size=SIZE, channels=(8, 16), attention_levels=(False, False))
    model = LoadedModel(cfg, {}, {"data": {}}, "0" * 64, Path("m"))
    with pytest.raises(SynthmedError, match=f"a {kind} model cannot edit"):
        edit_image(model, discs[0], class_name="disc")


def test_models_that_cannot_edit_are_refused(data, discs, tmp_path, capsys):
    cfg = ModelConfig(model="vae", size=SIZE, channels=(8, 16), attention_levels=(False, False))
    vae = train(load_training_data(data.source, SIZE, label_column=""), tmp_path / "vae", cfg,
                TrainParams(steps=1, batch_size=4), progress=False)
    src = write_png(tmp_path / "a.png", discs[0])
    with pytest.raises(SystemExit) as exc:
        main(["edit", str(src), "--model", str(vae), "--set", "class=disc", "-o",
              str(tmp_path / "o")])
    assert exc.value.code == 2 and "vae model cannot edit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # learned options without --model
        main(["edit", str(src), "--set", "kl_grade=3", "--strength", "0.5", "-o",
              str(tmp_path / "o")])
    assert exc.value.code == 2 and "only apply with --model" in capsys.readouterr().err


def write_dicom(path, pixels):
    """A 12-bit MONOCHROME2 secondary-capture DICOM with a patient name."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", generate_uid()
    ds.PatientName = "Doe^Jane"
    (ds.Rows, ds.Columns), ds.SamplesPerPixel = pixels.shape, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_read_image_formats_agree(tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(0)
    ramp = rng.integers(0, 4096, (12, 20)).astype(np.uint16)  # 12-bit, not square
    ramp.flat[:2] = 0, 4095
    expected = ramp / 4095
    write_dicom(tmp_path / "x.dcm", ramp)
    nib.save(nib.Nifti1Image(expected.T[:, :, None].astype(np.float32), np.eye(4)),
             tmp_path / "x.nii.gz")
    np.save(tmp_path / "x.npy", expected.astype(np.float32))
    for name in ("x.dcm", "x.nii.gz", "x.npy"):
        src = read_image(tmp_path / name)
        np.testing.assert_allclose(src.image, expected, atol=1e-6, err_msg=name)
        assert src.name == name and len(src.sha256) == 64
    assert "min-max" in read_image(tmp_path / "x.dcm").scaling
    with pytest.raises(SynthmedError, match="2D"):
        np.save(tmp_path / "v.npy", np.zeros((3, 4, 5)))
        read_image(tmp_path / "v.npy")


def test_ldm_edits_when_it_takes_classes(data, discs, tmp_path):
    try:
        cfg = ModelConfig(model="ldm", size=SIZE, channels=(8, 16),
                          attention_levels=(False, False), latent_channels=2,
                          class_names=data.class_names)
    except ValueError:
        pytest.skip("ldm models are not class-conditioned yet")
    model = load_model(train(data, tmp_path / "ldm", cfg, TrainParams(steps=4, batch_size=4),
                             progress=False))
    kw = dict(class_name="square", num_inference_steps=4, seed=1)
    a, b = (edit_image(model, discs[0], strength=0.5, **kw) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape == (SIZE, SIZE) and a.labels.classes["square"]


def test_mask_conditioned_models_use_the_source_samples_masks(discs, tmp_path, capsys):
    shapes = write_shapes(tmp_path / "shapes", n=8)
    model_dir, ds_dir = tmp_path / "model", tmp_path / "ds"
    main(["train", "--data", str(shapes), "-o", str(model_dir), "--size", str(SIZE),
          "--steps", "2", "--batch-size", "4", "--mask", "shape", "-q"])
    main(["sample", str(model_dir), "-o", str(ds_dir), "-n", "2", "--masks", str(shapes),
          "--steps", "2", "-q"])  # a synthmed dataset whose samples have a 'shape' mask
    main(["edit", str(ds_dir), "--model", str(model_dir), "--set", "label=square",
          "-o", str(tmp_path / "out"), "--steps", "4", "-q"])
    source, edited = open_dataset(ds_dir), open_dataset(tmp_path / "out")
    for a, b in zip(source, edited, strict=True):
        np.testing.assert_array_equal(b.labels.masks["shape"], a.labels.masks["shape"])
    with pytest.raises(SystemExit) as exc:  # a plain image has no masks to condition on
        main(["edit", str(write_png(tmp_path / "a.png", discs[0])), "--model", str(model_dir),
              "--set", "label=square", "-o", str(tmp_path / "o")])
    assert exc.value.code == 2 and "conditioned on masks shape" in capsys.readouterr().err
