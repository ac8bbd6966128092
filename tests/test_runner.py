"""The local runner: manifest, resume, verification and the output-folder rules."""

import json
from pathlib import Path

import pytest

import synthmed
from synthmed.errors import OutputError
from synthmed.spec import parse_spec

TOY = "name: toy\npreset: toy\ncount: 6\nseed: 3\nparams: {lesion: {bernoulli: 0.5}}\n" \
      "export: [png, npz]\n"


def manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def file_hashes(root: Path) -> dict[str, str]:
    out = {}
    for entry in manifest(root):
        out.update(entry.get("files", {}))
        out.update(entry.get("dataset_files", {}))
    return out


def test_dataset_layout_and_manifest_hashes(tmp_path):
    root = synthmed.generate(parse_spec(TOY), tmp_path / "out", workers=1, progress=False)
    entries = manifest(root)
    assert [e["index"] for e in entries[:-1]] == list(range(6))
    assert "dataset_card.md" in entries[-1]["dataset_files"]
    for rel, digest in file_hashes(root).items():
        from synthmed._io import sha256_file
        assert sha256_file(root / rel) == digest, rel
    run = json.loads((root / "run.json").read_text())
    assert run["state"] == "complete"
    assert not list(root.rglob(".tmp-*"))
    card = (root / "dataset_card.md").read_text()
    assert "SYNTHETIC" in card and "preset `toy`" in card
    info = json.loads((root / "dataset.json").read_text())
    lesions = sum(synthmed.open_dataset(root)[i].labels.classes["lesion"] for i in range(6))
    assert info["classes"]["lesion"] == lesions
    assert info["classes"]["no_finding"] == 6 - lesions


def test_rerun_resumes_and_remakes_only_damaged_samples(tmp_path):
    spec = parse_spec(TOY)
    root = synthmed.generate(spec, tmp_path / "out", workers=1, progress=False)
    before = file_hashes(root)
    mtimes = {p: (root / p).stat().st_mtime_ns for p in before}
    (root / "images" / "000002.png").write_bytes(b"corrupted")   # damaged file
    (root / "labels" / "000004.json").unlink()                    # missing file
    synthmed.generate(spec, root, workers=1, progress=False)
    assert file_hashes(root) == before                            # byte-identical again
    untouched = "images/000001.png"
    assert (root / untouched).stat().st_mtime_ns == mtimes[untouched]  # not remade


def test_torn_manifest_line_is_ignored(tmp_path):
    spec = parse_spec(TOY)
    root = synthmed.generate(spec, tmp_path / "out", workers=1, progress=False)
    before = file_hashes(root)
    text = (root / "manifest.jsonl").read_text()
    (root / "manifest.jsonl").write_text(text[: len(text) // 2])  # killed mid-append
    synthmed.generate(spec, root, workers=1, progress=False)
    assert file_hashes(root) == before


def test_growing_count_keeps_existing_samples(tmp_path):
    small = synthmed.generate(parse_spec(TOY), tmp_path / "a", count=3, progress=False, workers=1)
    grown = synthmed.generate(parse_spec(TOY), tmp_path / "a", count=6, progress=False, workers=1)
    full = synthmed.generate(parse_spec(TOY), tmp_path / "b", count=6, progress=False, workers=1)
    assert small == grown
    rel = lambda h: {k: v for k, v in h.items() if k.startswith(("images", "labels", "masks"))}
    assert rel(file_hashes(grown)) == rel(file_hashes(full))


def test_seed_override_changes_pixels(tmp_path):
    a = synthmed.generate(parse_spec(TOY), tmp_path / "a", count=1, progress=False, workers=1)
    b = synthmed.generate(parse_spec(TOY), tmp_path / "b", count=1, seed=99, progress=False, workers=1)
    assert (a / "images/000000.png").read_bytes() != (b / "images/000000.png").read_bytes()


def test_output_folder_rules(tmp_path):
    spec = parse_spec(TOY)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        synthmed.generate(spec, a_file, progress=False, workers=1)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty and is not a synthmed dataset"):
        synthmed.generate(spec, other, progress=False, workers=1)
    assert (other / "notes.txt").read_text() == "mine"           # never touched
    root = synthmed.generate(spec, tmp_path / "out", count=2, progress=False, workers=1)
    different = parse_spec(TOY.replace("seed: 3", "seed: 4"))
    with pytest.raises(OutputError, match="different spec"):
        synthmed.generate(different, root, count=2, progress=False, workers=1)
    synthmed.generate(different, root, count=2, progress=False, overwrite=True, workers=1)
    assert json.loads((root / "run.json").read_text())["identity"] == different.identity()


def test_read_only_output_is_a_clear_error(tmp_path):
    import os
    if os.geteuid() == 0:
        locked = Path("/proc/synthmed-out")  # root can write anywhere but /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    with pytest.raises(OutputError, match="cannot write"):
        synthmed.generate(parse_spec(TOY), locked / "out", progress=False, workers=1)


def test_files_get_the_usual_permissions(tmp_path):
    import os
    import stat
    root = synthmed.generate(parse_spec(TOY), tmp_path / "out", count=1, workers=1, progress=False)
    mode = stat.S_IMODE((root / "images" / "000000.png").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
