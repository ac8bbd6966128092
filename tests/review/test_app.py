"""The web app's security: the key never reaches a reader; tokens, CSRF, hostile input."""

import json
import re
import sqlite3
import threading

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from synthmed.review.app import create_app  # noqa: E402
from synthmed.review.study import study_links  # noqa: E402

HOSTILE = "<script>alert(1)</script>' OR 1=1 --"


@pytest.fixture
def client(study):
    return TestClient(create_app(study))


def reader(client, link):
    """(csrf, page html) of a reader link."""
    html = client.get(link).text
    return re.search(r'data-csrf="([^"]+)"', html).group(1), html


def answer(client, link, csrf, item, **fields):
    body = {"item": item, "call": "synthetic", "confidence": 3, **fields}
    return client.post(f"/api{link}/answer", json=body, headers={"X-CSRF-Token": csrf})


def test_nothing_a_reader_fetches_reveals_the_key(study, client):
    link = study_links(study).readers[0]
    con = sqlite3.connect(study / "study.sqlite")
    sources = [s for (s,) in con.execute("SELECT source FROM items")]
    csrf, _ = reader(client, link)
    fetched = [client.get(link), client.get("/static/reader.js"), client.get("/static/review.css")]
    sizes = {}
    while (state := client.get(f"/api{link}/next")).json()["item"]:
        item = state.json()["item"]
        image = client.get(f"/api{link}/image/{item}")
        (origin,) = con.execute("SELECT origin FROM items WHERE id = ?", (item,)).fetchone()
        sizes.setdefault(origin, set()).add(image.content[8:33])  # IHDR: size, depth, colour
        fetched += [state, image, answer(client, link, csrf, item)]
    assert sizes["real"] == sizes["synthetic"]
    for r in fetched:
        text = (r.content + json.dumps(dict(r.headers)).encode() + str(r.url).encode()).lower()
        assert not any(s.lower().encode() in text for s in sources)
        assert not any(word in text for word in (b"patient", b"fake_", b"hospital"))
        assert r.headers["cache-control"] == "no-store"
        if r.headers["content-type"] in ("application/json", "image/png"):  # item-specific
            assert b"real" not in r.content.lower() and b"synth" not in r.content.lower()
            assert b"origin" not in r.content.lower() and b"source" not in r.content.lower()
    # the page differs between readers only by their tokens: it cannot carry item facts
    pages = [reader(client, link) for link in study_links(study).readers]
    assert len({html.replace(c, "").replace(link.split("/")[-1], "")
                for (c, html), link in zip(pages, study_links(study).readers)}) == 1
    assert fetched[-1].json() == {"item": None, "answered": 8, "total": 8}


def test_a_reader_token_opens_only_its_own_items(study, client):
    links = study_links(study)
    con = sqlite3.connect(study / "study.sqlite")
    mine = {i for (i,) in con.execute("SELECT item_id FROM assignments WHERE reader_id = 1")}
    theirs = [i for (i,) in con.execute("SELECT item_id FROM assignments WHERE reader_id = 2")
              if i not in mine]
    assert theirs
    assert client.get(f"/api{links.readers[0]}/image/{theirs[0]}").status_code == 404
    csrf, _ = reader(client, links.readers[0])
    assert answer(client, links.readers[0], csrf, theirs[0]).status_code == 404
    token = links.readers[0].split("/")[-1]
    assert client.get(f"/owner/{token}").status_code == 404
    assert client.get("/owner/x").status_code == 404 and client.get("/r/x").status_code == 404
    assert client.get(links.owner).status_code == 200


def test_answers_need_the_readers_own_csrf_token(study, client):
    links = study_links(study)
    item = client.get(f"/api{links.readers[0]}/next").json()["item"]
    other_csrf, _ = reader(client, links.readers[1])
    assert client.post(f"/api{links.readers[0]}/answer",
                       json={"item": item, "call": "real", "confidence": 2}).status_code == 403
    assert answer(client, links.readers[0], other_csrf, item).status_code == 403
    assert answer(client, links.readers[0], "", item).status_code == 403
    csrf, _ = reader(client, links.readers[0])
    assert answer(client, links.readers[0], csrf, item).status_code == 200
    assert answer(client, links.readers[0], csrf, item).status_code == 409  # no duplicates
    assert answer(client, links.readers[0], csrf, item, confidence=9).status_code == 422


def test_hostile_comment_is_stored_verbatim_and_escaped(study, client):
    links = study_links(study)
    csrf, _ = reader(client, links.readers[0])
    item = client.get(f"/api{links.readers[0]}/next").json()["item"]
    assert answer(client, links.readers[0], csrf, item, comment=HOSTILE, grade=2).status_code == 200
    con = sqlite3.connect(study / "study.sqlite")
    assert con.execute("SELECT comment FROM answers").fetchall() == [(HOSTILE,)]
    assert con.execute("SELECT COUNT(*) FROM items").fetchone()[0] > 1  # tables intact
    page = client.get(links.owner).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#x27; OR 1=1 --" in page


def test_concurrent_answers_are_all_stored_once(tmp_path, folders):
    from synthmed.review.study import create_study

    real, synth = folders
    create_study(real, synth, tmp_path / "load", readers=20, per_reader=16, size=32)
    client = TestClient(create_app(tmp_path / "load"))
    links = study_links(tmp_path / "load").readers
    csrfs = [reader(client, link)[0] for link in links]
    codes = []

    def read_all(link, csrf):
        while item := client.get(f"/api{link}/next").json()["item"]:
            # post each answer twice: the second must be refused, never stored
            codes.extend(answer(client, link, csrf, item).status_code for _ in range(2))

    threads = [threading.Thread(target=read_all, args=a) for a in zip(links, csrfs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    con = sqlite3.connect(tmp_path / "load" / "study.sqlite")
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT reader_id || item_id) FROM answers"
                       ).fetchone() == (320, 320)
    assert sorted(set(codes)) == [200, 409] and codes.count(200) == 320


def test_scripted_answers_give_the_hand_counted_auc_icc_and_plots(folders, tmp_path):
    from synthmed.review.results import results_csv, study_results
    from synthmed.review.stats import icc_2_1
    from synthmed.review.study import create_study

    real, synth = folders
    create_study(real, synth, tmp_path / "s", readers=3, per_reader=8, task="both", size=32,
                 grade_name="KL grade", grade_max=4)
    client = TestClient(create_app(tmp_path / "s"))
    links = study_links(tmp_path / "s")
    con = sqlite3.connect(tmp_path / "s" / "study.sqlite")
    origin = dict(con.execute("SELECT id, origin FROM items"))
    scored = []  # reader 1: (is synthetic, +-confidence)
    for r, link in enumerate(links.readers, start=1):
        csrf, html = reader(client, link)
        assert ">KL grade (0-4) <select" in html
        k = 0
        while item := client.get(f"/api{link}/next").json()["item"]:
            # right on the first six, wrong on the last two; confidence 1..5 in turn
            call = origin[item] if k < 6 else {"real": "synthetic", "synthetic": "real"}[origin[item]]
            grade = (r * 3 + k) % 5
            assert answer(client, link, csrf, item, call=call, confidence=k % 5 + 1,
                          grade=grade).status_code == 200
            if r == 1:
                scored.append((origin[item] == "synthetic", (k % 5 + 1) * (1 if call == "synthetic" else -1)))
            k += 1
    pos = [s for p, s in scored if p]
    neg = [s for p, s in scored if not p]
    by_hand = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
    res = study_results(tmp_path / "s")
    assert res["readers"][1]["roc_auc"] == pytest.approx(by_hand)
    assert res["grade_name"] == "KL grade" and res["grade_max"] == 4
    rows = results_csv(res).splitlines()
    assert rows[0].endswith(",roc_auc") and rows[1].startswith("1,8,")
    assert float(rows[1].split(",")[-1]) == pytest.approx(by_hand)
    for o in ("real", "synthetic"):
        shared = con.execute(
            "SELECT a.item_id FROM answers a JOIN items i ON i.id = a.item_id WHERE i.origin = ? "
            "GROUP BY a.item_id HAVING COUNT(*) = 3 ORDER BY a.item_id", (o,)).fetchall()
        matrix = [[con.execute("SELECT grade FROM answers WHERE reader_id = ? AND item_id = ?",
                               (r, i)).fetchone()[0] for r in (1, 2, 3)] for (i,) in shared]
        assert res["grade_icc"][o]["items"] == len(shared) >= 2
        assert res["grade_icc"][o]["icc"] == pytest.approx(icc_2_1(matrix), nan_ok=True)
    page = client.get(links.owner).text
    assert "KL grade agreement, ICC(2,1)" in page and f"<td>{by_hand:.3f}</td>" in page
    for name in ("accuracy.svg", "roc.svg"):
        svg = client.get(f"{links.owner}/{name}")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<?xml") and "<svg" in svg.text and "<script" not in svg.text
        assert "script-src" not in svg.headers["content-security-policy"]
        assert f'src="{links.owner}/{name}"' in page
        token = links.readers[0].split("/")[-1]
        assert client.get(f"/owner/{token}/{name}").status_code == 404
    assert f"AUC {res['pooled']['roc_auc']:.3f}" in client.get(f"{links.owner}/roc.svg").text
    assert client.get(f"{links.owner}/study.sqlite").status_code == 404
