"""Small real and synthetic image folders made here, a study over them, and the real app
served by uvicorn on a free localhost port."""

import socket
import threading

import numpy as np
import pytest
from PIL import Image
from skimage import data, transform

from synthmed.review.study import create_study


def image_folders(root, n=8):
    """``real/`` from scikit-image photographs (64 px, some 16-bit, with PNG text) and
    ``synthetic/`` from noise and discs (48 px, 8-bit RGB), so that size, depth, mode and
    metadata differ between the two before a study strips them."""
    from PIL.PngImagePlugin import PngInfo

    real, synth = root / "real", root / "synthetic"
    real.mkdir()
    synth.mkdir()
    sources = [data.camera(), data.moon(), data.coins(), data.page()]
    info = PngInfo()
    info.add_text("Comment", "real scan from hospital")
    rng = np.random.default_rng(1)
    for i in range(n):
        img = transform.resize(sources[i % 4].astype(float) / 255, (64, 64))
        if i % 2:
            Image.fromarray(np.uint16(img * 65535)).save(real / f"patient_{i}.png", pnginfo=info)
        else:
            Image.fromarray(np.uint8(img * 255)).save(real / f"patient_{i}.png", pnginfo=info)
        yy, xx = np.mgrid[:48, :48]
        disc = ((yy - 24) ** 2 + (xx - 24) ** 2 < (6 + i) ** 2) * 0.5 + rng.random((48, 48)) * 0.5
        rgb = np.repeat(np.uint8(disc * 255)[..., None], 3, axis=-1)
        Image.fromarray(rgb).save(synth / f"fake_{i}.png")
    return real, synth


@pytest.fixture
def folders(tmp_path):
    return image_folders(tmp_path)


@pytest.fixture
def make_folders(tmp_path):
    """``make_folders(n)``: :func:`image_folders` with ``n`` images of each origin."""
    return lambda n: image_folders(tmp_path, n)


@pytest.fixture
def study(tmp_path, folders):
    """Three readers, eight items each (two real and two synthetic shared by all)."""
    real, synth = folders
    create_study(real, synth, tmp_path / "study", readers=3, per_reader=8, task="both",
                 size=32, seed=0)
    return tmp_path / "study"


@pytest.fixture
def serve():
    """``serve(study)`` starts the app for ``study`` with uvicorn in a thread on a free
    localhost port and returns its base URL; every server stops at the end of the test."""
    uvicorn = pytest.importorskip("uvicorn")
    from synthmed.review.app import create_app

    running = []

    def start(study):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = uvicorn.Server(uvicorn.Config(create_app(study), host="127.0.0.1", port=port,
                                            log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        running.append((srv, thread))
        while not srv.started and thread.is_alive():
            thread.join(0.05)
        if not srv.started:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        return f"http://127.0.0.1:{port}"

    yield start
    for srv, thread in running:
        srv.should_exit = True
        thread.join()


@pytest.fixture
def server(study, serve):
    """Base URL of the app serving the three-reader ``study``."""
    return serve(study)
