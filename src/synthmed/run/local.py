"""The default runner: a local process pool with a progress bar, atomic writes and resume.

>>> import synthmed
>>> out = synthmed.generate("examples/specs/chest_xray.yaml", "out/", count=4)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from synthmed.errors import SynthmedError
from synthmed.provenance.card import write_dataset_card
from synthmed.registry import EXPORTERS
from synthmed.run.output import (ManifestLog, claim_output, finalize_exports, mark_complete,
                                 verified_entries, write_final_manifest)
from synthmed.run.task import make_sample, record_path, write_sample
from synthmed.spec import DatasetSpec, Plan, load_spec, resolve

__all__ = ["generate", "Interrupted"]


class Interrupted(SynthmedError):
    """The run was stopped (Ctrl-C or SIGTERM); finished samples are kept for a resume."""


def generate(spec: DatasetSpec | str | os.PathLike, out_dir: str | os.PathLike, *,
             count: int | None = None, seed: int | None = None, workers: int | None = None,
             progress: bool = True, overwrite: bool = False,
             watermark: bool | None = None) -> Path:
    """Generate the dataset ``spec`` describes into ``out_dir``; return the folder.

    Parameters
    ----------
    spec : DatasetSpec or path
        A spec, or the path of a YAML spec file.
    out_dir : path
        Output folder: new, empty, or an earlier run of the same spec (which is resumed:
        verified samples are kept, the rest are made).
    count, seed : int, optional
        Override the spec's sample count and seed.
    watermark : bool, optional
        Override the spec's ``watermark`` (False: images are not marked).
    workers : int, optional
        Worker processes (default: CPU count, at most 8). The output is byte-identical
        for any value.
    progress : bool
        Show a progress bar on stderr.
    overwrite : bool
        Replace an existing dataset made from a different spec.

    Raises
    ------
    SpecError, OutputError, Interrupted
        Problems a user can fix; the message says how.
    """
    if not isinstance(spec, DatasetSpec):
        spec = load_spec(spec)
    overrides = {k: v for k, v in {"count": count, "seed": seed, "watermark": watermark}.items()
                 if v is not None}
    if overrides:
        source, lines = spec._source, spec._lines
        spec = DatasetSpec.model_validate({**spec.model_dump(), **overrides})
        spec._source, spec._lines = source, lines
    plan = resolve(spec)
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    if workers < 1:
        raise SynthmedError(f"--workers must be at least 1, got {workers}")
    for fmt in spec.export:
        EXPORTERS.get(fmt)  # fail on a missing optional dependency before any work

    root = Path(out_dir)
    claim_output(root, spec, overwrite=overwrite)
    done = verified_entries(root, spec.count)
    todo = [i for i in range(spec.count) if i not in done]
    with _sigterm_as_interrupt():
        log = ManifestLog(root)
        try:
            with _progress_bar(progress) as bar:
                task = bar.add_task(f"{spec.name}", total=spec.count, completed=len(done))
                for entry in _run(plan, root, todo, workers):
                    log.append(entry)
                    done[entry["index"]] = entry
                    bar.advance(task)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: {len(done)} of {spec.count} samples are "
                              f"written to {root}; run the same command again to resume"
                              ) from None
        finally:
            log.close()
        _finish(root, spec, done)
    return root


def _run(plan: Plan, root: Path, todo: list[int], workers: int) -> Iterator[dict]:
    formats = plan.spec.export
    if workers == 1 or len(todo) <= 1:
        for i in todo:
            yield write_sample(make_sample(plan, i), root, i, formats)
        return
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["synthmed.run.task"])
    spec_json = plan.spec.model_dump(mode="json")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=_init_worker, initargs=(spec_json, str(root)))
    pending: set[Future] = set()
    queue = iter(todo)
    try:
        while True:
            while len(pending) < 2 * workers and (i := next(queue, None)) is not None:
                pending.add(pool.submit(_work, i))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result()
    finally:
        # on Ctrl-C: samples in flight finish (their writes are atomic), the rest are dropped
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER: dict = {}


def _init_worker(spec_json: dict, root: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _WORKER["plan"] = resolve(DatasetSpec.model_validate(spec_json))
    _WORKER["root"] = Path(root)


def _work(index: int) -> dict:
    plan = _WORKER["plan"]
    return write_sample(make_sample(plan, index), _WORKER["root"], index, plan.spec.export)


def _finish(root: Path, spec: DatasetSpec, entries: dict[int, dict]) -> None:
    records = [json.loads(record_path(root, i).read_text()) for i in range(spec.count)]
    dataset_files = finalize_exports(root, spec.export, records)
    dataset_files += write_dataset_card(root, spec, records)
    dataset_files.append("spec.yaml")
    write_final_manifest(root, entries, dataset_files)
    mark_complete(root, spec)


@contextmanager
def _progress_bar(enabled: bool):
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), disable=not enabled, transient=False)
    with bar:
        yield bar


@contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C so a killed run also stops cleanly and can resume."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
