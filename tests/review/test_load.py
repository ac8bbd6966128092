"""Load on the real server: 50 readers answer 100 images each at once, over HTTP; every
answer is stored exactly once and nothing is lost.

Bounded in count (each reader posts at most its 100 answers plus one deliberate repeat)
and in time (every request has a client timeout), never by a wall-clock assertion.
"""

import re
import sqlite3
import threading

import pytest

from synthmed.review.study import create_study, study_links

httpx = pytest.importorskip("httpx")

READERS, PER_READER = 50, 100


def read_all(base: str, link: str, log: list) -> None:
    """One reader: open the page, answer every item in order, re-post the first answer once.

    Appends (status, item) of every answer post to ``log``; stops after ``PER_READER`` + 1
    posts whatever the server says, so a misbehaving server cannot make it loop.
    """
    with httpx.Client(base_url=base, timeout=httpx.Timeout(30.0)) as client:
        csrf = re.search(r'data-csrf="([^"]+)"', client.get(link).text).group(1)
        state = client.get(f"/api{link}/next").json()
        first = state["item"]
        for k in range(PER_READER + 1):
            item = first if k == 1 else state["item"]  # k == 1: the deliberate repeat
            if item is None:
                break
            r = client.post(f"/api{link}/answer", headers={"X-CSRF-Token": csrf},
                            json={"item": item, "call": ("real", "synthetic")[k % 2],
                                  "confidence": k % 5 + 1})
            log.append((r.status_code, item))
            if r.status_code == 200:
                state = r.json()


def test_fifty_readers_times_a_hundred_answers_none_lost_none_twice(tmp_path, make_folders, serve):
    real, synth = make_folders(PER_READER // 2 + 10)
    study = tmp_path / "load"
    create_study(real, synth, study, readers=READERS, per_reader=PER_READER, size=32)
    base = serve(study)
    links = study_links(study).readers
    logs = [[] for _ in links]
    errors = []

    def run(link, log):
        try:
            read_all(base, link, log)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=a) for a in zip(links, logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    con = sqlite3.connect(study / "study.sqlite")
    stored = con.execute("SELECT reader_id, item_id FROM answers").fetchall()
    assigned = con.execute("SELECT reader_id, item_id FROM assignments").fetchall()
    assert len(stored) == len(set(stored)) == READERS * PER_READER  # none twice
    assert set(stored) == set(assigned)  # none lost
    for reader_id, log in enumerate(logs, start=1):
        codes = [c for c, _ in log]
        assert codes.count(200) == PER_READER and codes.count(409) == 1, codes
        assert len(codes) == PER_READER + 1
        ok = {item for c, item in log if c == 200}
        assert ok == {i for r, i in assigned if r == reader_id}
