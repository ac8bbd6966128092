"""Invisible watermark: survives the listed attacks, absent from real images, verify CLI."""

import io
import json
import shutil

import numpy as np
import pytest
import skimage.data
from PIL import Image
from skimage.transform import resize, rotate

from synthmed.cli import main
from synthmed.provenance.verify import verify
from synthmed.provenance.watermark import STRENGTH_MAX, Z_DETECT, detect, embed
from synthmed.run.local import generate
from synthmed.run.task import make_sample
from synthmed.spec import parse_spec, resolve

SPEC = """
name: wm-test
preset: chest_xray
count: 3
seed: 5
image_size: [512, 512]
export: [png, nifti]
"""


def _to8(a):
    return np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)


def _jpeg(a, quality=75):
    buf = io.BytesIO()
    Image.fromarray(_to8(a)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf), np.float64) / 255


ATTACKS = {
    "untouched": lambda a: a,
    "8-bit": lambda a: _to8(a),
    "jpeg75": _jpeg,
    "resize0.5": lambda a: resize(a, (a.shape[0] // 2, a.shape[1] // 2), anti_aliasing=True),
    "crop10%": lambda a: a[a.shape[0] // 20:-a.shape[0] // 20, a.shape[1] // 20:-a.shape[1] // 20],
    "rotate2deg": lambda a: rotate(a, 2.0, mode="reflect"),
}


@pytest.fixture(scope="module")
def marked():
    plan = resolve(parse_spec(SPEC))
    return [(s.images["xray"], s.provenance.dataset_id)
            for s in (make_sample(plan, i) for i in range(3))]


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_mark_survives(marked, attack):
    for image, dataset_id in marked:
        found = detect(ATTACKS[attack](embed(image, dataset_id)), expected=(dataset_id,))
        assert found.synthetic, (attack, found)
        assert found.dataset_id == dataset_id, (attack, found)


def test_rotated_copy_is_found_blind(marked):
    """A 2-degree rotation (resampled, reflected borders) is found without knowing the id,
    with the lattice's angle and period recovered."""
    image, dataset_id = marked[0]
    found = detect(rotate(embed(image, dataset_id), 2.0, mode="reflect"))
    assert found.synthetic and found.score > Z_DETECT + 2, found
    assert abs(abs(found.angle_deg) - 2.0) < 0.2 and abs(found.period_px - 64) < 1, found
    assert found.dataset_id in (dataset_id, None)   # never a wrong id


@pytest.fixture(scope="module")
def textured():
    plan = resolve(parse_spec("preset: ultrasound\nseed: 5\nimage_size: [512, 512]\n"))
    return make_sample(plan, 0).images["us"]


def test_textured_image_gets_a_stronger_mark_that_is_found(textured):
    """Speckle hides a stronger mark (PSNR 40 dB, not 44) and masks it from the detector;
    a 512 x 512 ultrasound image is found untouched, as JPEG and rotated."""
    out = embed(textured, "0badcafe")
    rms = float(np.sqrt(np.mean((out - textured) ** 2)))
    assert rms <= STRENGTH_MAX + 1e-6 and 10 * np.log10(1 / rms ** 2) >= 40.0 - 1e-3
    assert rms > 0.008                                    # stronger than on a radiograph
    assert not detect(textured).synthetic
    for attack in ("untouched", "jpeg75", "rotate2deg"):
        found = detect(ATTACKS[attack](out))
        assert found.synthetic and found.score > Z_DETECT + 2, (attack, found)


def test_mark_is_invisible_and_labels_stay(marked):
    image, dataset_id = marked[0]
    out = embed(image, dataset_id)
    psnr = 10 * np.log10(1.0 / np.mean((out - image) ** 2))
    assert 40.0 < psnr < 50.0
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_no_mark_in_real_images():
    """skimage's real photographs and micrographs, with crops and resizes: none flagged."""
    trials = scores = 0
    worst = 0.0
    for name in ("camera", "astronaut", "coffee", "chelsea", "moon", "brick", "grass",
                 "retina", "immunohistochemistry", "page", "text", "gravel"):
        image = np.asarray(getattr(skimage.data, name)(), np.float64)
        for variant in (image, image[: image.shape[0] * 3 // 4, image.shape[1] // 5:],
                        resize(image, (image.shape[0] // 2, image.shape[1] // 2) +
                               image.shape[2:])):
            found = detect(variant)
            trials += 1
            scores += found.synthetic
            worst = max(worst, found.score)
    assert trials == 36 and scores == 0, worst
    assert worst < Z_DETECT - 1.0   # a margin: the highest here (brick) is about 4.7


def test_generated_dataset_is_marked_and_verified(tmp_path):
    root = generate(parse_spec(SPEC), tmp_path / "ds", progress=False, workers=1)
    rec = json.loads((root / "labels" / "000000.json").read_text())
    mark = rec["provenance"]["dataset_id"]
    assert mark == parse_spec(SPEC).identity()[:8]
    with Image.open(root / "images" / "000000.png") as im:
        assert im.text["synthmed:dataset_id"] == mark
    card = (root / "dataset_card.md").read_text()
    assert mark in card and "synthmed verify" in card
    assert json.loads((root / "dataset.json").read_text())["watermark"]["dataset_id"] == mark

    # tamper with one image, copy one out, screenshot one as JPEG, break one
    with Image.open(root / "images" / "000001.png") as im:
        pixels = np.array(im)
    pixels[:8, :8] = 0
    Image.fromarray(pixels).save(root / "images" / "000001.png")
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(root / "images" / "000002.png", loose / "copy.png")
    with Image.open(root / "images" / "000002.png") as im:
        shot = (np.asarray(im, np.float64) / 65535)[40:-30, 25:-50]
    Image.fromarray(_to8(resize(shot, (300, 300)))).save(loose / "shot.jpg", quality=75)
    (loose / "broken.png").write_bytes(b"not a png")

    results = {r.path.split("/")[-2] + "/" + r.path.split("/")[-1]: r for r in verify(root)}
    assert set(results) == {f"images/00000{i}.png" for i in range(3)} | {
        f"nifti/00000{i}_xray.nii.gz" for i in range(3)}   # masks and label maps skipped
    assert all(r.synthetic and r.dataset_id == mark for r in results.values())
    assert results["images/000000.png"].manifest == "untouched"
    assert results["images/000001.png"].manifest == "modified"
    loose_results = {r.path.split("/")[-1]: r for r in verify(loose)}
    assert loose_results["copy.png"].manifest == "not in a manifest"
    # outside its dataset the id must be read blind, which this mark's strength does not
    # guarantee (see benchmarks/watermark.py): it is either right or unknown, never wrong
    assert loose_results["copy.png"].synthetic
    assert loose_results["copy.png"].dataset_id in (mark, None)
    assert loose_results["shot.jpg"].synthetic
    assert loose_results["broken.png"].error and not loose_results["broken.png"].synthetic


def test_verify_cli(tmp_path, capsys):
    root = generate(parse_spec(SPEC.replace("count: 3", "count: 1")), tmp_path / "ds",
                    progress=False, workers=1)
    main(["verify", str(root / "images"), "--json"])   # exits 0: no SystemExit
    rows = json.loads(capsys.readouterr().out)
    assert [r["synthetic"] for r in rows] == [True] and rows[0]["manifest"] == "untouched"
    main(["verify", str(root / "images" / "000000.png")])
    assert "SYNTHETIC" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(tmp_path / "missing")])
    assert exc.value.code == 2


def test_opt_out(tmp_path):
    spec = parse_spec(SPEC.replace("count: 3", "count: 1") + "watermark: false\n")
    root = generate(spec, tmp_path / "ds", progress=False, workers=1)
    assert "dataset_id" not in json.loads((root / "labels" / "000000.json").read_text())[
        "provenance"]
    assert not verify(root / "images")[0].synthetic
    assert "watermark: false" in (root / "dataset_card.md").read_text()
