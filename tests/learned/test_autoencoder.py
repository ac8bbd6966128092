"""The autoencoder models: vae (AutoencoderKL, sampling decodes prior noise) and ldm (the
autoencoder, then DDPM in its latent space): losses fall, sampling is seeded, models
round-trip through disk, ldm draws the requested class and resumes exactly across its two
stages, vae refuses classes."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from test_train_sample import (SIZE, assert_deterministic, assert_draws_each_class,  # noqa: E402
                               write_shapes)

from synthmed.cli import main  # noqa: E402
from synthmed.errors import SynthmedError  # noqa: E402
from synthmed.learned.data import load_training_data  # noqa: E402
from synthmed.learned.models import ModelConfig  # noqa: E402
from synthmed.learned.sample import generate_samples, load_model  # noqa: E402
from synthmed.learned.train import TrainParams, train  # noqa: E402


def tiny(model, data):
    return ModelConfig(model=model, size=data.size, channels=(8, 16),
                       attention_levels=(False, False), latent_channels=2,
                       class_names=data.class_names)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_training_data(write_shapes(tmp_path_factory.mktemp("shapes")), SIZE,
                              label_column="")


@pytest.fixture(scope="module")
def vae(data, tmp_path_factory):
    return train(data, tmp_path_factory.mktemp("vae") / "m", tiny("vae", data),
                 TrainParams(steps=40, batch_size=16, learning_rate=3e-3), progress=False)


@pytest.fixture(scope="module")
def ldm(data, tmp_path_factory):
    return train(data, tmp_path_factory.mktemp("ldm") / "m", tiny("ldm", data),
                 TrainParams(steps=60, batch_size=16, learning_rate=3e-3,
                             autoencoder_steps=30), progress=False)


def test_vae_reconstruction_loss_falls(vae):
    meta = json.loads((vae / "model.json").read_text())
    assert meta["model"] == "vae" and meta["steps"] == 40
    assert meta["loss"]["last"] < 0.5 * meta["loss"]["first"], meta["loss"]
    card = (vae / "model_card.md").read_text()
    assert "AutoencoderKL" in card and meta["weights_sha256"] in card


def test_vae_sampling_is_deterministic_for_a_seed(vae):
    model = load_model(vae)
    a = assert_deterministic(model, 3, 5)
    images = np.stack([s.image for s in a])
    assert images.shape == (3, SIZE, SIZE) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    assert a[0].provenance.preset == "learned:vae" and a[0].labels.classes == {}
    alone = generate_samples(model, 1, seed=5, start=1)[0]
    np.testing.assert_allclose(alone.image, a[1].image, atol=1e-4)


def test_vae_save_load_sample_is_identical(vae, tmp_path):
    copy = shutil.copytree(vae, tmp_path / "copy")
    a = generate_samples(load_model(vae), 2, seed=1)
    b = generate_samples(load_model(copy), 2, seed=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)


def test_unconditioned_models_refuse_classes_and_masks(vae, data):
    with pytest.raises(SynthmedError, match="without classes"):
        generate_samples(load_model(vae), 1, class_name="disc")
    with pytest.raises(ValueError, match="takes no classes or masks"):
        ModelConfig(model="vae", size=SIZE, class_names=["a", "b"])


def test_ldm_loss_falls_and_samples_are_images(ldm):
    meta = json.loads((ldm / "model.json").read_text())
    stages = meta["loss_stages"]
    assert meta["training"]["autoencoder_steps"] == 30
    assert stages["autoencoder"]["last"] < 0.5 * stages["autoencoder"]["first"], stages
    assert stages["diffusion"]["last"] < stages["diffusion"]["first"], stages
    assert "latent" in (ldm / "model_card.md").read_text()
    model = load_model(ldm)
    assert float(model.networks["latent_scale"].value) != 1.0
    a = generate_samples(model, 3, seed=2, num_inference_steps=5)
    b = generate_samples(load_model(shutil.copytree(ldm, ldm.parent / "copy")), 3, seed=2,
                         num_inference_steps=5)
    images = np.stack([s.image for s in a])
    assert images.shape == (3, SIZE, SIZE) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)


@pytest.fixture(scope="module")
def labelled(data):
    return load_training_data(data.source, SIZE)  # classes disc, square


@pytest.fixture(scope="module")
def ldm_classes(labelled, tmp_path_factory):
    return train(labelled, tmp_path_factory.mktemp("ldm_classes") / "m",
                 tiny("ldm", labelled), TrainParams(steps=60, batch_size=16,
                                                    learning_rate=3e-3,
                                                    autoencoder_steps=30),
                 progress=False)


def test_ldm_draws_the_requested_class(ldm_classes, labelled):
    model = load_model(ldm_classes)
    assert model.class_names == ["disc", "square"]
    assert "class dropout 0.1" in (ldm_classes / "model_card.md").read_text()
    assert_draws_each_class(model, labelled, 16, 0.8, num_inference_steps=10)
    with pytest.raises(ValueError, match="takes no masks"):
        ModelConfig(model="ldm", size=SIZE, mask_names=["shape"])


def test_ldm_resume_across_stages_gives_the_same_model(labelled, tmp_path):
    small = load_training_data(labelled.source, SIZE, max_images=8)  # with classes
    cfg = tiny("ldm", small)
    run = dict(batch_size=4, learning_rate=1e-3, checkpoint_every=1, autoencoder_steps=2)
    train(small, tmp_path / "one", cfg, TrainParams(steps=4, **run), progress=False)
    train(small, tmp_path / "two", cfg, TrainParams(steps=3, **run), progress=False)
    train(small, tmp_path / "two", cfg, TrainParams(steps=4, **run), progress=False)
    one, two = (json.loads((tmp_path / d / "model.json").read_text()) for d in ("one", "two"))
    assert one["loss"] == two["loss"] and one["weights_sha256"] == two["weights_sha256"]


def test_cli_trains_and_samples_a_vae(data, tmp_path, capsys):
    model_dir, out = tmp_path / "model", tmp_path / "out"
    main(["train", "--model", "vae", "--data", data.source, "-o", str(model_dir),
          "--size", "16", "--steps", "2", "--batch-size", "4", "-q"])
    assert "2 steps" in capsys.readouterr().out
    main(["sample", str(model_dir), "-o", str(out), "-n", "2", "-q"])
    assert json.loads((out / "dataset.json").read_text())["generator"] == "learned:vae"
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(model_dir), "-o", str(tmp_path / "x"), "--class", "disc"])
    assert exc.value.code == 2 and "without classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "vae", "--data", data.source, "-o", str(tmp_path / "m2"),
              "--size", "16", "--steps", "1", "--mask", "shape", "-q"])
    assert "takes no classes or masks" in capsys.readouterr().err
