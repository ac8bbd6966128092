"""Screenshot of a synthmed dataset in Orthanc's web interface (docs/gallery/orthanc.png).

Generates a small lung CT + chest X-ray dataset with DICOM export, starts a throw-away
Orthanc (Debian's orthanc + orthanc-dicomweb), runs ``synthmed push`` and photographs the
study page in headless Chromium (Playwright, Debian's /usr/bin/chromium).

    .venv/bin/python docs/gallery/make_orthanc_screenshot.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests" / "e2e"))

from orthanc_server import running_orthanc  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

SPEC = """name: pacs-demo
preset: {preset}
count: 1
seed: 7
params: {params}
export: [npz, dicom]
"""


def make_dataset(root: Path, preset: str, params: str) -> Path:
    spec = root / f"{preset}.yaml"
    spec.write_text(SPEC.format(preset=preset, params=params))
    out = root / preset
    subprocess.run([sys.executable, "-m", "synthmed.cli", "generate", str(spec), "-o", str(out),
                    "-q", "--workers", "1"], check=True)
    return out


def _study_with_modality(url: str, modality: str) -> str:
    """Orthanc's id of the (first) study holding a series of ``modality``."""
    query = json.dumps({"Level": "Series", "Query": {"Modality": modality}}).encode()
    series = json.load(urllib.request.urlopen(f"{url}/tools/find", data=query))
    return json.load(urllib.request.urlopen(f"{url}/series/{series[0]}"))["ParentStudy"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        datasets = [make_dataset(tmp, "lung_ct", "{covid: true, nodule: true}"),
                    make_dataset(tmp, "chest_xray", "{pneumonia: true}")]
        with running_orthanc(tmp / "orthanc") as url:
            for ds in datasets:
                subprocess.run([sys.executable, "-m", "synthmed.cli", "push", str(ds),
                                "--dicomweb", f"{url}/dicom-web", "-q", "--query"], check=True)
            study = _study_with_modality(url, "CT")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1100, "height": 620})
                page.goto(f"{url}/app/explorer.html#study?uuid={study}")
                page.wait_for_selector("text=SEG", timeout=15000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(HERE / "orthanc.png"))
                browser.close()
    print(f"wrote {HERE / 'orthanc.png'}")


if __name__ == "__main__":
    main()
