"""Learned generators: training lowers the loss, sampling is deterministic and conditioned,
checkpoints resume exactly, models round-trip through disk, the CLI writes a dataset."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from synthmed.cli import main  # noqa: E402
from synthmed.dataset import open_dataset  # noqa: E402
from synthmed.errors import OutputError, SynthmedError  # noqa: E402
from synthmed.evaluate.data import load_image_set  # noqa: E402
from synthmed.learned.data import load_training_data  # noqa: E402
from synthmed.learned.models import ModelConfig  # noqa: E402
from synthmed.learned.sample import generate_samples, load_model  # noqa: E402
from synthmed.learned.train import TrainParams, train  # noqa: E402

SIZE = 16


def write_shapes(folder, n=64, size=SIZE, seed=0):
    """Bright discs in the upper half ("disc") and squares in the lower half ("square"),
    with a mask of each shape (CSV column ``shape``)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["filename,label,shape"]
    r, c = np.ogrid[:size, :size]
    for i in range(n):
        kind = "disc" if i % 2 == 0 else "square"
        img = 0.1 + 0.03 * rng.standard_normal((size, size))
        rad, cx = size * rng.uniform(0.15, 0.22), size / 2 + rng.uniform(-1, 1)
        cy = size * (0.3 if kind == "disc" else 0.7)
        shape = ((r - cy) ** 2 + (c - cx) ** 2 < rad ** 2 if kind == "disc"
                 else (abs(r - cy) < 0.9 * rad) & (abs(c - cx) < 0.9 * rad))
        img[shape] = 0.9
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
        Image.fromarray(np.where(shape, 255, 0).astype(np.uint8)).save(folder / f"{i:03d}_m.png")
        rows.append(f"{i:03d}.png,{kind},{i:03d}_m.png")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def tiny_config(data):
    return ModelConfig(size=data.size, channels=(8, 16), attention_levels=(False, False),
                       class_names=data.class_names)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    data = load_training_data(shapes, SIZE)
    out = train(data, tmp_path_factory.mktemp("model") / "m", tiny_config(data),
                TrainParams(steps=150, batch_size=16, learning_rate=3e-3, checkpoint_every=50),
                progress=False)
    return data, out


def test_training_data_reads_classes(shapes):
    data = load_training_data(shapes, SIZE)
    assert data.images.shape == (64, SIZE, SIZE) and data.images.dtype == np.float32
    assert data.class_names == ["disc", "square"]
    assert data.class_index.tolist()[:4] == [0, 1, 0, 1]


def test_loss_falls_and_card_records_training(trained):
    data, out = trained
    meta = json.loads((out / "model.json").read_text())
    assert meta["steps"] == 150 and meta["seed"] == 0
    assert meta["loss"]["last"] < 0.5 * meta["loss"]["first"], meta["loss"]
    assert meta["data"]["classes"] == {"disc": 32, "square": 32}
    card = (out / "model_card.md").read_text()
    assert meta["weights_sha256"] in card and "150" in card


def nearest_centroid(train_images, train_labels):
    centroids = np.stack([train_images[train_labels == k].mean(0) for k in (0, 1)])
    return lambda x: np.argmin(((x[:, None] - centroids[None]) ** 2).sum((-1, -2)), axis=1)


def assert_draws_each_class(model, data, n, min_accuracy, **sampling):
    """Samples asked for each class of ``data`` carry it as their label, are images in
    [0, 1], and a nearest-centroid classifier trained on ``data`` recognises the class in at
    least ``min_accuracy`` of them (chance is 0.5; both classes start from the same noise,
    so a model that ignored the class would score 1 - accuracy on the other)."""
    classify = nearest_centroid(data.images, data.class_index)
    for k, name in enumerate(data.class_names):
        samples = generate_samples(model, n, class_name=name, seed=3, **sampling)
        assert all(s.labels.classes == {c: c == name for c in data.class_names}
                   for s in samples)
        images = np.stack([s.image for s in samples])
        assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
        accuracy = (classify(images) == k).mean()
        assert accuracy >= min_accuracy, (name, accuracy)


def assert_deterministic(model, n, seed, **sampling):
    """The same seed gives the same samples (pixels and metadata), another seed other
    ones; returns the samples of ``seed``."""
    a, b = (generate_samples(model, n, seed=seed, **sampling) for _ in range(2))
    c = generate_samples(model, n, seed=seed + 1, **sampling)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        assert x.metadata() == y.metadata()
    assert not np.array_equal(a[0].image, c[0].image)
    return a


def test_class_conditioning_draws_the_requested_class(trained):
    data, out = trained
    classify = nearest_centroid(data.images, data.class_index)
    assert (classify(data.images) == data.class_index).mean() > 0.95  # the classifier works
    assert_draws_each_class(load_model(out), data, 16, 0.8, num_inference_steps=10)


def test_sampling_is_deterministic_for_a_seed(trained):
    _, out = trained
    model = load_model(out)
    a = assert_deterministic(model, 4, 7, num_inference_steps=5)
    # sample i regenerates alone (to float rounding: it is computed in another batch)
    alone = generate_samples(model, 1, seed=7, num_inference_steps=5, start=2)[0]
    np.testing.assert_allclose(alone.image, a[2].image, atol=1e-4)
    assert alone.labels.classes == a[2].labels.classes
    assert a[2].provenance.index == 2 and a[2].provenance.seed == 7


def test_save_load_sample_gives_identical_output(trained, tmp_path):
    _, out = trained
    copy = shutil.copytree(out, tmp_path / "copy")
    a = generate_samples(load_model(out), 3, class_name="square", seed=1, num_inference_steps=5)
    b = generate_samples(load_model(copy), 3, class_name="square", seed=1,
                         num_inference_steps=5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
    state = torch.load(out / "checkpoint.pt", weights_only=True)["networks"]
    weights = torch.load(out / "weights.pt", weights_only=True)
    assert all(torch.equal(state[k], weights[k]) for k in weights)


def test_changed_weights_are_refused(trained, tmp_path):
    _, out = trained
    copy = shutil.copytree(out, tmp_path / "copy")
    (copy / "weights.pt").write_bytes((copy / "weights.pt").read_bytes() + b"x")
    with pytest.raises(SynthmedError, match="sha256"):
        load_model(copy)


def test_resume_gives_the_same_model_as_one_run(shapes, tmp_path):
    data = load_training_data(shapes, SIZE, max_images=8)
    cfg = tiny_config(data)
    run = dict(batch_size=16, learning_rate=1e-3, checkpoint_every=2)
    train(data, tmp_path / "one", cfg, TrainParams(steps=4, **run), progress=False)
    train(data, tmp_path / "two", cfg, TrainParams(steps=2, **run), progress=False)
    train(data, tmp_path / "two", cfg, TrainParams(steps=4, **run), progress=False)
    one, two = (json.loads((tmp_path / d / "model.json").read_text()) for d in ("one", "two"))
    assert one["loss"] == two["loss"] and one["steps"] == two["steps"] == 4
    assert one["weights_sha256"] == two["weights_sha256"]
    with pytest.raises(OutputError, match="trained differently"):
        train(data, tmp_path / "two", cfg, TrainParams(steps=4, seed=1, **{
            **run, "learning_rate": 2e-3}), progress=False)


def test_cli_train_then_sample_writes_a_dataset(shapes, tmp_path, capsys):
    model_dir, out = tmp_path / "model", tmp_path / "out"
    main(["train", "--model", "ddpm", "--data", str(shapes), "-o", str(model_dir),
          "--size", "16", "--steps", "3", "--batch-size", "4", "-q"])
    assert "3 steps" in capsys.readouterr().out
    main(["sample", str(model_dir), "-o", str(out), "-n", "3", "--class", "square",
          "--steps", "2", "-q"])
    meta = json.loads((model_dir / "model.json").read_text())
    ds = open_dataset(out)
    assert len(ds) == 3
    s = ds[1]
    assert s.labels.classes == {"disc": False, "square": True}
    assert s.provenance.params["model_sha256"] == meta["weights_sha256"]
    assert s.provenance.preset == "learned:ddpm" and s.units == {"image": "1"}
    manifest = (out / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 4 and "dataset_card.md" in json.loads(manifest[-1])["dataset_files"]
    assert "SYNTHETIC" in (out / "dataset_card.md").read_text()
    assert len(load_image_set(out, size=(16, 16))) == 3  # reads as a synthmed dataset

    with pytest.raises(SystemExit) as exc:
        main(["sample", str(model_dir), "-o", str(tmp_path / "x"), "--class", "triangle"])
    assert exc.value.code == 2
    assert "triangle" in capsys.readouterr().err

    # the output folder is checked before sampling: another sampling's dataset or foreign
    # files are refused (exit 2) and left as they are; --overwrite replaces the dataset
    card = (out / "dataset_card.md").read_bytes()
    for folder, message in [(out, "other settings"), (shapes, "not a synthmed dataset")]:
        with pytest.raises(SystemExit) as exc:
            main(["sample", str(model_dir), "-o", str(folder), "-n", "2", "--steps", "2"])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert (out / "dataset_card.md").read_bytes() == card
    main(["sample", str(model_dir), "-o", str(out), "-n", "2", "--steps", "2", "-q",
          "--overwrite"])
    assert len(open_dataset(out)) == 2 and not (out / "images" / "000002.png").exists()


def test_mask_conditioning_records_the_masks(shapes, tmp_path):
    model_dir, out = tmp_path / "model", tmp_path / "out"
    main(["train", "--data", str(shapes), "-o", str(model_dir), "--size", "16", "--steps", "2",
          "--mask", "shape", "--label-column", "", "-q"])
    main(["sample", str(model_dir), "-o", str(out), "-n", "2", "--masks", str(shapes),
          "--steps", "2", "-q"])
    masks = load_image_set(shapes, size=(16, 16)).masks["shape"]
    ds = open_dataset(out)
    for i in range(2):
        s = ds[i]
        assert s.labels.label_table == {"shape": 1} and s.labels.classes == {}
        np.testing.assert_array_equal(s.labels.masks["shape"], masks[i])
    with pytest.raises(SynthmedError, match="needs conditioning masks"):
        generate_samples(load_model(model_dir), 1)
