"""Send a dataset's DICOM files to a PACS by DICOMweb, and count them there.

:func:`push` uploads every ``.dcm`` file listed in the dataset's label records (``files``
of ``labels/{id}.json``, written by the ``dicom`` export format) by STOW-RS, in batches;
:func:`count_on_server` asks the server by QIDO-RS how many of the dataset's studies,
series and instances it holds. Both use ``dicomweb-client`` (``pip install
'synthmed[dicom]'``). Servers: Orthanc with its DICOMweb plugin (root ``/dicom-web``),
dcm4chee-arc (``/dcm4chee-arc/aets/DCM4CHEE/rs``), Google/Azure healthcare APIs, ...

Example
-------
>>> from synthmed.push import push, count_on_server
>>> sent = push("out/chest", "http://localhost:8042/dicom-web")     # doctest: +SKIP
>>> sent.files                                                       # doctest: +SKIP
48
>>> count_on_server("http://localhost:8042/dicom-web", sent.study_uids)  # doctest: +SKIP
{'studies': 24, 'series': 48, 'instances': 48}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pydicom
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from synthmed.dataset import Dataset
from synthmed.errors import SynthmedError

__all__ = ["Pushed", "dicom_files", "push", "count_on_server"]


class Pushed(NamedTuple):
    """What :func:`push` sent: the number of files and the StudyInstanceUIDs (sorted)."""

    files: int
    study_uids: list[str]


def dicom_files(root: str | os.PathLike) -> list[Path]:
    """Every DICOM file (``.dcm``) that the dataset's records list, in sample-id order."""
    ds = Dataset(root)
    paths = [ds.root / rel for sid in ds.ids
             for rel in sorted(ds.record(sid)["files"].values()) if rel.endswith(".dcm")]
    if not paths:
        raise SynthmedError(f"{ds.root} has no DICOM files; generate it with 'dicom' among "
                            "the spec's export formats")
    return paths


def _client(url: str):
    try:
        from dicomweb_client import DICOMwebClient
    except ImportError:
        raise SynthmedError("pushing by DICOMweb needs the package 'dicomweb-client'; "
                            "install it with: pip install 'synthmed[dicom]'") from None
    client = DICOMwebClient(url.rstrip("/"))
    # transient failures (HTTP 429/503/504, dropped connections) are tried again twice,
    # within about 1.5 s; the library's default waits 30 s before reporting a dead server
    client.set_http_retry_params(max_attempts=3, wait_exponential_multiplier=250)
    return client


def _call(url: str, what: str, fn: Callable, *args, **kwargs):
    """Run one DICOMweb request; turn network and HTTP failures into a SynthmedError."""
    import requests

    try:
        return fn(*args, **kwargs)
    except requests.HTTPError as exc:
        resp = exc.response
        status = f"HTTP {resp.status_code} {resp.reason}" if resp is not None else str(exc)
        raise SynthmedError(f"the DICOMweb server at {url} refused to {what}: {status}; "
                            "check the URL (it is the DICOMweb root, e.g. "
                            "http://host:8042/dicom-web) and the server's log") from None
    except requests.RequestException as exc:
        raise SynthmedError(f"cannot reach the DICOMweb server at {url} ({type(exc).__name__}); "
                            "check the URL and that the server is running") from None


def _batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(paths), size):
        yield paths[i:i + size]


def _check_stored(url: str, reply: pydicom.Dataset, datasets: list[pydicom.Dataset],
                  chunk: list[Path]) -> None:
    """Raise, naming a file, if the STOW-RS reply lists failed instances."""
    failed = reply.get("FailedSOPSequence", [])
    if not failed:
        return
    item = failed[0]
    by_uid = {str(d.SOPInstanceUID): p for d, p in zip(datasets, chunk)}
    where = by_uid.get(str(item.get("ReferencedSOPInstanceUID", "")), chunk[0])
    reason = item.get("FailureReason")
    raise SynthmedError(f"the DICOMweb server at {url} rejected {len(failed)} file(s), e.g. "
                        f"{where} (FailureReason "
                        f"{'not given' if reason is None else hex(reason)}); see its log")


def push(root: str | os.PathLike, url: str, batch: int = 20,
         progress: bool = True) -> Pushed:
    """Upload the dataset's DICOM files by STOW-RS, ``batch`` files per request.

    Raises :class:`SynthmedError` when the server cannot be reached, answers with an HTTP
    error, or rejects a file (naming the file and the FailureReason). Uploading again is
    harmless: the files keep their UIDs, so the server keeps one copy.
    """
    paths = dicom_files(root)
    client = _client(url)
    studies: set[str] = set()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=not progress,
                  transient=True) as bar:
        task = bar.add_task("STOW-RS upload", total=len(paths))
        for chunk in _batches(paths, batch):
            datasets = [pydicom.dcmread(p) for p in chunk]
            reply = _call(url, f"store {chunk[0]} (a batch of {len(chunk)} files)",
                          client.store_instances, datasets)
            _check_stored(url, reply, datasets, chunk)
            studies.update(str(d.StudyInstanceUID) for d in datasets)
            bar.advance(task, len(chunk))
    return Pushed(len(paths), sorted(studies))


def count_on_server(url: str, study_uids: list[str]) -> dict[str, int]:
    """How many of these studies, and their series and instances, the server holds (QIDO-RS)."""
    client = _client(url)
    counts = {"studies": 0, "series": 0, "instances": 0}
    for uid in study_uids:
        match = {"search_filters": {"StudyInstanceUID": uid}, "get_remaining": True}
        series = _call(url, "search series", client.search_for_series, **match)
        instances = _call(url, "search instances", client.search_for_instances, **match)
        counts["studies"] += bool(series)
        counts["series"] += len(series)
        counts["instances"] += len(instances)
    return counts
