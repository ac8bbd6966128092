"""`synthmed evaluate` end to end: metrics.json, report.html, and the page in real Chromium."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from skimage import data, transform

from synthmed.cli import main
from synthmed.evaluate.suite import evaluate

CHROMIUM = shutil.which("chromium")


def real_folder(tmp_path, n=24):
    """A folder of real photographs from scikit-image with a labels.csv of attributes."""
    folder = tmp_path / "real"
    folder.mkdir()
    sources = [data.camera(), data.moon(), data.coins(), data.page(), data.text(),
               data.grass(), data.gravel(), data.brick()]
    rows = ["filename,sex"]
    rng = np.random.default_rng(0)
    for i in range(n):
        img = sources[i % len(sources)].astype(float) / 255
        r0, c0 = rng.integers(0, 40, 2)
        crop = transform.resize(img[r0:r0 + 200, c0:c0 + 200], (64, 64))
        Image.fromarray(np.uint8(crop * 255)).save(folder / f"img{i:02d}.png")
        rows.append(f"img{i:02d}.png,{'FM'[i % 2]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    real = real_folder(tmp)
    page = evaluate(real, tmp / "out", real=real, size=(64, 64), subgroups=("sex",),
                    command="synthmed evaluate (test)")
    return page, json.loads((tmp / "out" / "metrics.json").read_text())


def test_a_set_against_itself_is_perfect(report):
    _, metrics = report
    fid = metrics["fidelity"]
    assert fid["fid"] == pytest.approx(0, abs=1e-6)
    assert fid["precision"] == fid["recall"] == 1.0
    assert fid["histogram"]["wasserstein_1"] == pytest.approx(0, abs=1e-12)
    assert metrics["features"]["method"] == "radiomics" and metrics["features"]["description"]
    assert set(metrics["bias"]["sex"]["groups"]) == {"F", "M"}
    assert metrics["verdict"]


def test_every_figure_in_the_page_is_in_metrics_json(report):
    page, metrics = report
    html = page.read_text()
    in_page = re.findall(r'data-figure="([^"]+)"', html)
    assert sorted(in_page) == sorted(metrics["figures"])
    assert {"pixel_histograms", "feature_pca", "fidelity_scores", "bias_sex",
            "real_samples", "synthetic_samples"} <= set(in_page)
    assert "http://" not in html and "https://" not in html   # readable offline


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian chromium not installed (make test installs it)")
def test_report_renders_in_headless_chromium(report):
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path, metrics = report
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        assert "Verdict" in page.inner_text("#verdict")
        widths = page.eval_on_selector_all("figure img", "els => els.map(e => e.naturalWidth)")
        browser.close()
    assert len(widths) == len(metrics["figures"])
    assert all(w > 0 for w in widths)                 # every figure decoded
    assert not errors


def test_cli_evaluate_without_real_set(tmp_path, capsys):
    real = real_folder(tmp_path, n=6)
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "-s", str(real), "-o", str(tmp_path / "r"), "--target", "x"])
    assert info.value.code == 2
    assert "--target needs --real" in capsys.readouterr().err
    main(["evaluate", "-s", str(real), "-o", str(tmp_path / "r"), "--size", "32"])
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert 0 < metrics["fidelity"]["diversity_synthetic"] <= 1
    assert "need --real" in " ".join(metrics["verdict"])


def test_cli_evaluate_bad_subgroup(tmp_path, capsys):
    real = real_folder(tmp_path, n=6)
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "-s", str(real), "-r", str(real), "-o", str(tmp_path / "r"),
              "--size", "32", "--subgroup", "site"])
    assert info.value.code == 2
    assert "no attribute 'site'" in capsys.readouterr().err


def test_utility_section_with_a_class_target(tmp_path):
    pytest.importorskip("monai")
    folder = tmp_path / "discs"
    folder.mkdir()
    from skimage.draw import disk
    rng = np.random.default_rng(1)
    rows = ["filename,lesion"]
    for i in range(40):
        img = rng.normal(0.3, 0.05, (32, 32))
        if i % 2:
            img[disk(tuple(rng.integers(10, 22, 2)), 6)] = 0.9
        Image.fromarray(np.uint8(np.clip(img, 0, 1) * 255)).save(folder / f"{i}.png")
        rows.append(f"{i}.png,{'yes' if i % 2 else 'no'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    evaluate(folder, tmp_path / "out", real=folder, size=(32, 32), target="lesion",
             progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    utility = metrics["utility"]
    assert [r["synthetic_fraction"] for r in utility["mixing_curve"]] == [0, 0.25, 0.5, 1.0]
    assert utility["tstr"]["metrics"]["auc"]["value"] > 0.8   # bright discs are easy
    assert metrics["figures"]["mixing_curve"]["x"] == [0, 0.25, 0.5, 1.0]
    assert any(line.startswith("Utility:") for line in metrics["verdict"])


def test_privacy_section_finds_planted_copies(tmp_path):
    train = real_folder(tmp_path, n=12)
    holdout = tmp_path / "holdout"
    holdout.mkdir()
    for i in range(8):   # unseen crops of other images
        img = data.astronaut()[..., 0].astype(float)[i * 20:i * 20 + 200, 100:300] / 255
        Image.fromarray(np.uint8(transform.resize(img, (64, 64)) * 255)).save(holdout / f"h{i}.png")
    evaluate(train, tmp_path / "out", real=holdout, train=train, size=(64, 64), progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    privacy = metrics["privacy"]
    assert privacy["near_copies"] == 12                 # the "generator" copied its training set
    assert privacy["membership_inference_auc"] == pytest.approx(1.0)
    assert privacy["distance_ratio_fraction_below_1"] == 1.0
    assert len(metrics["figures"]["near_copies"]["ids"]) == 8
