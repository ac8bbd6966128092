"""`synthmed review create`: balanced, overlapping, clue-free items; the key only in SQLite."""

import io
import sqlite3

import pytest
from PIL import Image

from synthmed.cli import main
from synthmed.errors import SynthmedError
from synthmed.review.study import create_study


def test_each_reader_gets_a_balanced_shuffled_set_with_shared_items(study):
    con = sqlite3.connect(study / "study.sqlite")
    rows = con.execute("SELECT s.reader_id, s.position, s.item_id, i.origin FROM assignments s "
                       "JOIN items i ON i.id = s.item_id ORDER BY s.reader_id, s.position").fetchall()
    per_reader = {}
    for reader, _, item, origin in rows:
        per_reader.setdefault(reader, []).append((item, origin))
    assert len(per_reader) == 3
    for items in per_reader.values():
        assert len(items) == 8 and len(set(items)) == 8
        assert sum(o == "synthetic" for _, o in items) == 4
    shared = set.intersection(*(set(v) for v in per_reader.values()))
    assert sum(o == "real" for _, o in shared) >= 2 and sum(o == "synthetic" for _, o in shared) >= 2
    orders = [[i for i, _ in v if (i, _) in shared] for v in per_reader.values()]
    assert len({tuple(o) for o in orders}) > 1  # each reader has their own order


def test_images_are_reencoded_identically_whatever_the_source(study):
    con = sqlite3.connect(study / "study.sqlite")
    seen = {}
    for origin, png in con.execute("SELECT origin, png FROM items"):
        chunks, pos = [], 8
        while pos < len(png):
            length = int.from_bytes(png[pos:pos + 4], "big")
            chunks.append(png[pos + 4:pos + 8])
            pos += 12 + length
        assert set(chunks) == {b"IHDR", b"IDAT", b"IEND"}  # no tEXt/zTXt/iTXt/eXIf/pHYs
        im = Image.open(io.BytesIO(png))
        seen.setdefault(origin, set()).add((im.size, im.mode, png[8:33]))  # IHDR incl. depth
    assert seen["real"] == seen["synthetic"] and len(seen["real"]) == 1
    assert next(iter(seen["real"]))[:2] == ((32, 32), "L")


def test_bad_per_reader_is_a_user_error(folders, tmp_path):
    real, synth = folders
    with pytest.raises(SynthmedError, match="even number from 2 to 16"):
        create_study(real, synth, tmp_path / "s", readers=2, per_reader=7)
    with pytest.raises(SynthmedError, match="choose one of"):
        create_study(real, synth, tmp_path / "s", readers=2, task="rank")
    with pytest.raises(SynthmedError, match="short name"):
        create_study(real, synth, tmp_path / "s", readers=2, grade_name=" ")


def test_cli_create_prints_links_and_results_reads_them(folders, tmp_path, capsys):
    real, synth = folders
    main(["review", "create", "--real", str(real), "--synthetic", str(synth), "--readers", "2",
          "--per-reader", "4", "--size", "32", "--task", "both", "--grade-name", "KL grade",
          "-o", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert out.count("http://127.0.0.1:8000/r/") == 2 and "/owner/" in out
    links = [line for line in out.splitlines() if "http" in line]
    main(["review", "links", str(tmp_path / "s")])
    assert capsys.readouterr().out.splitlines() == links
    main(["review", "links", str(tmp_path / "s"), "--base-url", "https://study.example/"])
    assert capsys.readouterr().out.count("https://study.example/r/") == 2
    main(["review", "results", str(tmp_path / "s"), "--csv", str(tmp_path / "r.csv")])
    out = capsys.readouterr().out
    assert "pooled" in out and "ROC AUC" in out and "KL grade agreement" in out
    header = (tmp_path / "r.csv").read_text().splitlines()[0]
    assert header.startswith("reader,n,accuracy") and header.endswith(",roc_auc")
    assert sqlite3.connect(tmp_path / "s" / "study.sqlite").execute(
        "SELECT value FROM settings WHERE key = 'grade_name'").fetchone() == ("KL grade",)
    with pytest.raises(SystemExit) as info:
        main(["review", "create", "--real", str(real), "--synthetic", str(synth),
              "--readers", "2", "-o", str(tmp_path / "s")])
    assert info.value.code == 2 and "already holds a study" in capsys.readouterr().err
