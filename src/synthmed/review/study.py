"""Prepare a reader study: balanced, clue-free images and private links, stored in SQLite.

The answer key (which item is real, which file it came from) lives only in the study's
database, ``STUDY/study.sqlite``; a reader only ever gets an opaque item id and PNG pixels.
"""

from __future__ import annotations

import io
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from synthmed._io import atomic_path
from synthmed.errors import SynthmedError

__all__ = ["TASKS", "DB_NAME", "StudyLinks", "create_study", "connect", "encode_png",
           "study_links", "read_settings"]

TASKS = ("turing", "grade", "both")
DB_NAME = "study.sqlite"

SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE readers (id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, csrf TEXT NOT NULL);
CREATE TABLE items (id TEXT PRIMARY KEY, origin TEXT NOT NULL CHECK (origin IN ('real', 'synthetic')),
                    source TEXT NOT NULL, png BLOB NOT NULL);
CREATE TABLE assignments (reader_id INTEGER NOT NULL REFERENCES readers(id),
                          position INTEGER NOT NULL, item_id TEXT NOT NULL REFERENCES items(id),
                          PRIMARY KEY (reader_id, position), UNIQUE (reader_id, item_id));
CREATE TABLE answers (reader_id INTEGER NOT NULL, item_id TEXT NOT NULL,
                      call TEXT CHECK (call IN ('real', 'synthetic')),
                      confidence INTEGER CHECK (confidence BETWEEN 1 AND 5),
                      grade INTEGER, comment TEXT NOT NULL DEFAULT '',
                      answered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                      PRIMARY KEY (reader_id, item_id),
                      FOREIGN KEY (reader_id, item_id) REFERENCES assignments(reader_id, item_id));
"""


@dataclass(frozen=True)
class StudyLinks:
    """Private paths of a study: one per reader (``/r/TOKEN``) and the owner's (``/owner/TOKEN``)."""

    readers: list[str]
    owner: str


def encode_png(image: np.ndarray) -> bytes:
    """8-bit grey PNG bytes of ``image`` with no metadata chunks (only IHDR, IDAT, IEND).

    Parameters
    ----------
    image : float ndarray, shape (rows, cols)
        Grey levels in [0, 1] (values outside are clipped).

    >>> encode_png(np.zeros((4, 4)))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def connect(study: str | Path) -> sqlite3.Connection:
    """Open ``STUDY/study.sqlite`` (WAL, foreign keys on); raise if the folder holds no study."""
    path = Path(study) / DB_NAME
    if not path.is_file():
        raise SynthmedError(f"{study}: no reader study here (no {DB_NAME}); make one with "
                            "synthmed review create")
    con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA journal_mode = WAL")
    return con


def create_study(real: str | Path, synthetic: str | Path, output: str | Path, readers: int,
                 per_reader: int | None = None, task: str = "turing", seed: int = 0,
                 size: int = 256, grade_max: int = 4, grade_name: str = "grade") -> StudyLinks:
    """Make a study of ``readers`` readers, each with a balanced, shuffled set of images.

    Half of each reader's items are shared by all readers (so agreement between readers,
    Fleiss' kappa, is defined); the rest are drawn for that reader. Every image is resized
    to ``size`` x ``size`` pixels and re-encoded as an 8-bit grey PNG without metadata.

    Parameters
    ----------
    real, synthetic : path
        Folders of images (PNG, JPEG, TIFF, DICOM) or synthmed datasets.
    output : path
        New study folder; gets ``study.sqlite``.
    readers : int
        Number of readers (>= 1).
    per_reader : int, optional
        Items per reader, even (half real, half synthetic); default all a balanced pool allows.
    task : {"turing", "grade", "both"}
        Ask real-or-synthetic, a grade (0..``grade_max``), or both.
    grade_max : int
        Highest grade (grades run from 0), e.g. 4 for the Kellgren-Lawrence grade.
    grade_name : str
        What the grade is, as readers and the results see it, e.g. ``"KL grade"``.
    seed : int
        Seed of sampling and order (item ids and tokens are random regardless).
    size : int
        Side of the square images shown, pixels.

    Examples
    --------
    >>> links = create_study("real/", "synth/", "study/", readers=3)  # doctest: +SKIP
    >>> links.readers[0]                                               # doctest: +SKIP
    '/r/Xq3...'
    """
    from synthmed.evaluate.data import load_image_set

    output = Path(output)
    if task not in TASKS:
        raise SynthmedError(f"--task {task!r}: choose one of {', '.join(TASKS)}")
    if not 0 < len(grade_name.strip()) <= 40:
        raise SynthmedError(f"--grade-name {grade_name!r}: give a short name (1-40 characters)")
    if readers < 1:
        raise SynthmedError(f"--readers {readers}: a study needs at least one reader")
    if (output / DB_NAME).exists():
        raise SynthmedError(f"{output} already holds a study; choose another folder")
    sets = {origin: load_image_set(path, (size, size))
            for origin, path in (("real", real), ("synthetic", synthetic))}
    pool = min(len(s) for s in sets.values())
    half = pool if per_reader is None else per_reader // 2
    if per_reader is not None and (per_reader < 2 or per_reader % 2 or half > pool):
        raise SynthmedError(f"--per-reader {per_reader}: give an even number from 2 to "
                            f"{2 * pool} (twice the smaller set, {pool} images)")
    rng = np.random.default_rng(seed)
    chosen = {o: rng.permutation(len(s))[:pool] for o, s in sets.items()}
    items = {o: [(secrets.token_urlsafe(12), int(i)) for i in idx] for o, idx in chosen.items()}
    shared = half if readers == 1 else max(1, half // 2)
    plans = []
    for _ in range(readers):
        mine = []
        for o in ("real", "synthetic"):
            rest = items[o][shared:]
            picks = rng.choice(len(rest), half - shared, replace=False)
            mine += items[o][:shared] + [rest[int(i)] for i in picks]
        plans.append([mine[int(i)][0] for i in rng.permutation(len(mine))])
    used = {item_id for plan in plans for item_id in plan}
    owner = secrets.token_urlsafe(24)
    tokens = [secrets.token_urlsafe(24) for _ in range(readers)]
    output.mkdir(parents=True, exist_ok=True)
    with atomic_path(output / DB_NAME) as tmp:
        con = sqlite3.connect(tmp)
        con.executescript(SCHEMA)
        con.executemany("INSERT INTO settings VALUES (?, ?)", [
            ("task", task), ("owner_token", owner), ("grade_max", str(grade_max)),
            ("size", str(size)), ("seed", str(seed)), ("grade_name", grade_name.strip())])
        con.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", [
            (item_id, o, sets[o].ids[i], encode_png(sets[o].images[i]))
            for o in ("real", "synthetic") for item_id, i in items[o] if item_id in used])
        for r, (token, plan) in enumerate(zip(tokens, plans), start=1):
            con.execute("INSERT INTO readers VALUES (?, ?, ?)", (r, token, secrets.token_urlsafe(24)))
            con.executemany("INSERT INTO assignments VALUES (?, ?, ?)",
                            [(r, pos, item_id) for pos, item_id in enumerate(plan)])
        con.commit()
        con.close()
    return study_links(output)


def read_settings(con: sqlite3.Connection) -> dict[str, str]:
    """A study's settings (task, grade_max, grade_name, owner_token, ...) as strings; studies
    made before grades had names get ``grade_name`` "grade"."""
    return {"grade_name": "grade", **dict(con.execute("SELECT key, value FROM settings"))}


def study_links(study: str | Path) -> StudyLinks:
    """The private paths of an existing study (append them to the server's address)."""
    con = connect(study)
    try:
        tokens = [t for (t,) in con.execute("SELECT token FROM readers ORDER BY id")]
        (owner,) = con.execute("SELECT value FROM settings WHERE key = 'owner_token'").fetchone()
    finally:
        con.close()
    return StudyLinks([f"/r/{t}" for t in tokens], f"/owner/{owner}")
