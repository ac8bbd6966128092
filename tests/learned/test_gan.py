"""The gan model (MONAI Generator + PatchDiscriminator, class-conditional): both losses are
recorded, training moves samples toward the data, samples show the requested class,
sampling is seeded, models round-trip through disk, training resumes exactly, the CLI
trains and samples one."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from test_train_sample import (SIZE, assert_deterministic, assert_draws_each_class,  # noqa: E402
                               write_shapes)

from synthmed.cli import main  # noqa: E402
from synthmed.dataset import open_dataset  # noqa: E402
from synthmed.errors import SynthmedError  # noqa: E402
from synthmed.learned.data import load_training_data  # noqa: E402
from synthmed.learned.models import ModelConfig  # noqa: E402
from synthmed.learned.sample import generate_samples, load_model  # noqa: E402
from synthmed.learned.train import TrainParams, train  # noqa: E402

RUN = dict(batch_size=16, learning_rate=2e-3, checkpoint_every=50)


def tiny_gan(data):
    return ModelConfig(model="gan", size=data.size, channels=(8, 16),
                       attention_levels=(False, False), class_names=data.class_names)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_training_data(write_shapes(tmp_path_factory.mktemp("shapes")), SIZE)


@pytest.fixture(scope="module")
def gan(data, tmp_path_factory):
    return train(data, tmp_path_factory.mktemp("gan") / "m", tiny_gan(data),
                 TrainParams(steps=150, **RUN), progress=False)


def test_gan_records_both_losses(gan):
    meta = json.loads((gan / "model.json").read_text())
    assert meta["model"] == "gan" and meta["steps"] == 150
    parts = meta["loss_parts"]
    assert set(parts) == {"generator", "discriminator"} and meta["loss"] == parts["generator"]
    assert all(np.isfinite(v["curve"]).all() and len(v["curve"]) == 100 for v in parts.values())
    # the discriminator tells real from fake better than a coin (logistic loss 2 ln 2)
    assert parts["discriminator"]["last"] < 2 * np.log(2), parts
    card = (gan / "model_card.md").read_text()
    assert "PatchDiscriminator" in card and "R1" in card and "class dropout" not in card
    assert "generator first 10 %" in card and "discriminator first 10 %" in card


def intensity_gaps(samples, data):
    """|mean intensity| and |share of bright pixels| differences between samples and data."""
    images = np.stack([s.image for s in samples])
    return np.array([abs(images.mean() - data.images.mean()),
                     abs((images > 0.5).mean() - (data.images > 0.5).mean())])


def test_training_moves_samples_toward_the_data(gan, data, tmp_path):
    untrained = train(data, tmp_path / "m", tiny_gan(data), TrainParams(steps=1, **RUN),
                      progress=False)
    before = intensity_gaps(generate_samples(load_model(untrained), 32, seed=3), data)
    after = intensity_gaps(generate_samples(load_model(gan), 32, seed=3), data)
    assert (before > 0.1).all(), before  # an untrained generator is far off: the check can fail
    assert (after < 0.05).all() and (after < before / 4).all(), (before, after)


def test_gan_draws_the_requested_class(gan, data):
    assert_draws_each_class(load_model(gan), data, 32, 0.9)


def test_gan_sampling_is_deterministic_for_a_seed(gan):
    model = load_model(gan)
    a = assert_deterministic(model, 4, 7)
    alone = generate_samples(model, 1, seed=7, start=2)[0]
    np.testing.assert_allclose(alone.image, a[2].image, atol=1e-5)
    assert alone.labels.classes == a[2].labels.classes
    prov = a[0].provenance
    assert prov.preset == "learned:gan" and prov.params["num_inference_steps"] is None


def test_gan_save_load_sample_is_identical(gan, tmp_path):
    copy = shutil.copytree(gan, tmp_path / "copy")
    a = generate_samples(load_model(gan), 3, class_name="disc", seed=1)
    b = generate_samples(load_model(copy), 3, class_name="disc", seed=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
    state = torch.load(gan / "checkpoint.pt", weights_only=True)
    weights = torch.load(gan / "weights.pt", weights_only=True)
    assert all(torch.equal(state["networks"][k], weights[k]) for k in weights)
    assert set(state["optimisers"]) == {"generator", "discriminator"}


def test_gan_refuses_guidance_and_masks(gan):
    with pytest.raises(SynthmedError, match="no classifier-free guidance"):
        generate_samples(load_model(gan), 1, guidance_scale=2.0)
    with pytest.raises(ValueError, match="takes no masks"):
        ModelConfig(model="gan", size=SIZE, mask_names=["shape"])


def test_gan_resume_gives_the_same_model_as_one_run(data, tmp_path):
    small = load_training_data(data.source, SIZE, max_images=8)
    cfg = tiny_gan(small)
    run = dict(batch_size=4, learning_rate=2e-3, checkpoint_every=2)
    train(small, tmp_path / "one", cfg, TrainParams(steps=4, **run), progress=False)
    train(small, tmp_path / "two", cfg, TrainParams(steps=2, **run), progress=False)
    train(small, tmp_path / "two", cfg, TrainParams(steps=4, **run), progress=False)
    one, two = (json.loads((tmp_path / d / "model.json").read_text()) for d in ("one", "two"))
    assert one["loss_parts"] == two["loss_parts"] and one["steps"] == two["steps"] == 4
    assert one["weights_sha256"] == two["weights_sha256"]


def test_cli_trains_and_samples_a_gan(data, tmp_path, capsys):
    model_dir, out = tmp_path / "model", tmp_path / "out"
    main(["train", "--model", "gan", "--data", data.source, "-o", str(model_dir),
          "--size", "16", "--steps", "3", "--batch-size", "4", "-q"])
    printed = capsys.readouterr().out
    assert "3 steps" in printed and "discriminator" in printed
    main(["sample", str(model_dir), "-o", str(out), "-n", "3", "--class", "square", "-q"])
    ds = open_dataset(out)
    assert len(ds) == 3 and json.loads((out / "dataset.json").read_text())["generator"] == \
        "learned:gan"
    s = ds[2]
    assert s.labels.classes == {"disc": False, "square": True}
    assert s.provenance.params["model_sha256"] == json.loads(
        (model_dir / "model.json").read_text())["weights_sha256"]
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(model_dir), "-o", str(tmp_path / "x"), "--guidance", "2"])
    assert exc.value.code == 2 and "no classifier-free guidance" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "gan", "--data", data.source, "-o", str(tmp_path / "m2"),
              "--size", "16", "--steps", "1", "--mask", "shape", "-q"])
    assert exc.value.code == 2 and "takes no masks" in capsys.readouterr().err
