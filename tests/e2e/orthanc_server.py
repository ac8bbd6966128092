"""Start a throw-away Orthanc (Debian's orthanc + orthanc-dicomweb) on a free local port.

Used by the Orthanc tests and by ``docs/gallery/make_orthanc_screenshot.py``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ORTHANC = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
PLUGIN = next((p for p in ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                           "/usr/lib/orthanc/libOrthancDicomWeb.so") if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Orthanc did not answer {url} within {seconds} s:\n"
                       f"{log.read_text()[-3000:]}")


@contextmanager
def running_orthanc(root: Path) -> Iterator[str]:
    """Run Orthanc with its storage in ``root``; yield its HTTP root (``http://127.0.0.1:N``).

    DICOMweb is under ``/dicom-web``, the web interface under ``/app/explorer.html``.
    Raises RuntimeError (with the end of Orthanc's log) if it does not start.
    """
    if ORTHANC is None or PLUGIN is None:
        raise RuntimeError("Orthanc or its DICOMweb plugin is not installed "
                           "(apt-get install orthanc orthanc-dicomweb)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {"Name": "synthmed-test", "StorageDirectory": str(root / "db"),
              "IndexDirectory": str(root / "db"), "HttpPort": port,
              "DicomServerEnabled": False, "DicomPort": free_port(),
              "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
              "Plugins": [PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
    (root / "config.json").write_text(json.dumps(config))
    log = root / "orthanc.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([ORTHANC, str(root / "config.json")], stdout=out,
                                stderr=subprocess.STDOUT, cwd=root)
    try:
        _wait_for(f"http://127.0.0.1:{port}/system", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
