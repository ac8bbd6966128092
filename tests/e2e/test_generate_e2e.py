"""End to end with the real chest_xray preset: worker pools, Ctrl-C, a full disk."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import synthmed
from synthmed.spec import parse_spec

SYNTHMED = [sys.executable, "-m", "synthmed.cli"]
SPEC = ("name: e2e\npreset: chest_xray\ncount: {count}\nseed: 11\nimage_size: [{size}, {size}]\n"
        "params:\n  age_years: {{uniform: [3, 80]}}\n  view: {{choice: [PA, AP]}}\n"
        "  pneumonia: {{bernoulli: 0.5}}\n  nodule: {{bernoulli: 0.3}}\n"
        "  effusion: {{bernoulli: 0.3}}\nexport: [png, coco, nifti]\n")


def hashes(root: Path) -> dict[str, str]:
    out = {}
    for line in (root / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        out.update(entry.get("files", {}))
        out.update(entry.get("dataset_files", {}))
    return out


def write_spec(tmp_path: Path, count: int, size: int = 128) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(count=count, size=size))
    return path


def test_same_dataset_whatever_the_worker_count(tmp_path):
    spec = parse_spec(SPEC.format(count=6, size=128))
    a = synthmed.generate(spec, tmp_path / "a", workers=1, progress=False)
    b = synthmed.generate(spec, tmp_path / "b", workers=2, progress=False)
    assert hashes(a) == hashes(b)
    assert len(hashes(a)) > 6 * 4


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path):
    spec_path = write_spec(tmp_path, count=120)
    out = tmp_path / "out"
    cmd = SYNTHMED + ["generate", str(spec_path), "-o", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.fail("the run finished before the interrupt arrived; raise the count")
    assert proc.returncode == 2, err
    assert "interrupted" in err and "resume" in err
    assert "Traceback" not in err
    assert not list(out.rglob(".tmp-*"))
    assert json.loads((out / "run.json").read_text())["state"] == "running"
    written = len(manifest.read_text().splitlines())
    assert 2 <= written < 120

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    reference = synthmed.generate(parse_spec(SPEC.format(count=120, size=128)),
                                  tmp_path / "ref", workers=2, progress=False)
    assert hashes(out) == hashes(reference)


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs root and unshare to mount a small private tmpfs")
def test_full_disk_is_a_clear_error_and_resumable(tmp_path):
    spec_path = write_spec(tmp_path, count=60, size=256)
    mnt = tmp_path / "small"
    mnt.mkdir()
    gen = " ".join(SYNTHMED + ["generate", str(spec_path), "-o", str(mnt / "out"), "-q",
                               "--workers", "1"])
    script = f"""
        mount -t tmpfs -o size=1500k tmpfs {mnt} || exit 99
        {gen} 2> {tmp_path}/err1.txt; echo $? > {tmp_path}/rc1.txt
        find {mnt} -name '.tmp-*' | wc -l > {tmp_path}/tmp_left.txt
        mount -o remount,size=200m {mnt}
        {gen} 2> {tmp_path}/err2.txt; echo $? > {tmp_path}/rc2.txt
        cat {mnt}/out/run.json > {tmp_path}/run.json
    """
    res = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                         timeout=600)
    if res.returncode == 99:
        pytest.skip("cannot mount tmpfs here: " + res.stderr)
    err1 = (tmp_path / "err1.txt").read_text()
    assert (tmp_path / "rc1.txt").read_text().strip() == "2", err1
    assert "no space left" in err1.lower() and "Traceback" not in err1
    assert (tmp_path / "tmp_left.txt").read_text().strip() == "0"
    assert (tmp_path / "rc2.txt").read_text().strip() == "0", (tmp_path / "err2.txt").read_text()
    assert json.loads((tmp_path / "run.json").read_text())["state"] == "complete"
