"""The ``synthmed`` command line.

Every error a user can cause prints one line of explanation (no traceback) and exits 2.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthmed.errors import SynthmedError

app = typer.Typer(
    name="synthmed", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode="rich",
    help="Generate labelled synthetic medical imaging datasets, and inspect them.\n\n"
         "Start with [bold]synthmed presets[/bold], then [bold]synthmed generate "
         "examples/specs/chest_xray.yaml -o out/[/bold] and [bold]synthmed inspect out/[/bold].")
err = Console(stderr=True)
out = Console()

# options several commands share
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Device = Annotated[str, typer.Option("--device", help="cpu or cuda.")]


@app.command()
def generate(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="YAML dataset spec (see examples/specs/).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder. Re-running "
                                         "the same command resumes an interrupted run.")],
    count: Annotated[Optional[int], typer.Option("-n", "--count", help="Number of samples "
                                                 "(overrides the spec).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Dataset seed (overrides "
                                                "the spec).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", help="Worker "
                       "processes; the dataset is byte-identical for any number.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a dataset made "
                                            "from a different spec in OUTPUT.")] = False,
    no_watermark: Annotated[bool, typer.Option("--no-watermark", help="Leave the pixels "
                            "unmarked (overrides the spec's watermark: true).")] = False,
    quiet: Quiet = False,
):
    """Generate a dataset from a spec: images, masks, labels, manifest and dataset card."""
    from synthmed.run.local import generate as run

    root = run(spec, output, count=count, seed=seed, workers=workers,
               progress=not quiet, overwrite=overwrite,
               watermark=False if no_watermark else None)
    out.print(f"dataset written to {root.resolve()}  (card: {root / 'dataset_card.md'})")


@app.command()
def presets(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="Show one preset in detail.")] = None,
):
    """List presets and their parameters (name, type, default, allowed values, units)."""
    from synthmed.registry import PRESETS
    from synthmed.spec import allowed_values

    for preset_name in [name] if name else PRESETS.names():
        preset = PRESETS.get(preset_name)
        table = Table(title=f"[bold]{preset.name}[/bold] — {preset.description}",
                      title_justify="left", show_lines=False)
        for col in ("parameter", "type", "default", "allowed", "description"):
            table.add_column(col, overflow="fold")
        for field, info in preset.params.model_fields.items():
            table.add_row(field, _type_name(info.annotation), str(info.default),
                          allowed_values(info), info.description or "")
        out.print(table)


@app.command()
def inspect(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="A dataset folder made by generate.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="PNG to write "
                      "(default: DATASET/contact_sheet.png).")] = None,
    n: Annotated[int, typer.Option("-n", help="Number of samples to show.", min=1,
                                   max=400)] = 24,
):
    """Write a contact sheet PNG of the first samples with their label overlays."""
    from synthmed.inspect import contact_sheet

    path = contact_sheet(dataset, output or dataset / "contact_sheet.png", n=n)
    out.print(f"contact sheet written to {Path(path).resolve()}")


@app.command()
def evaluate(
    synthetic: Annotated[Path, typer.Option("--synthetic", "-s", help="Synthetic dataset "
                         "(a synthmed output folder or a folder of images).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder "
                      "(report.html + metrics.json).")],
    real: Annotated[Optional[Path], typer.Option("--real", "-r", help="Real images to compare "
                    "with (folder, optional labels.csv).")] = None,
    train: Annotated[Optional[Path], typer.Option("--train", help="Real images a learned "
                     "generator was trained on (privacy); --real is then held out.")] = None,
    features: Annotated[str, typer.Option("--features", help="radiomics | learned | "
                        "torchscript:PATH")] = "radiomics",
    size: Annotated[int, typer.Option("--size", min=32, max=1024, help="Images are resized "
                    "to SIZE x SIZE pixels.")] = 128,
    max_images: Annotated[Optional[int], typer.Option("--max-images", min=2, help="Use at "
                          "most this many images per set.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Utility class: "
                      "SYNTH[=REAL[:POSITIVE,...]], e.g. pneumonia=finding:Pneumonia "
                      "(needs synthmed[learned]).")] = None,
    subgroup: Annotated[Optional[list[str]], typer.Option("--subgroup", help="Bias "
                        "breakdown by NAME or SYNTH_NAME=REAL_NAME (repeatable).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    quiet: Quiet = False,
):
    """Measure a synthetic dataset (against real images): fidelity, realism, utility,
    privacy, bias; writes report.html and metrics.json."""
    from synthmed.evaluate.suite import evaluate as run

    page = run(synthetic, output, real=real, train=train, features=features,
               size=(size, size), max_images=max_images, target=target,
               subgroups=tuple(subgroup or ()), seed=seed, progress=not quiet,
               command=" ".join(["synthmed", *sys.argv[1:]]))
    out.print(f"report written to {page.resolve()}")


@app.command()
def edit(
    sample: Annotated[Path, typer.Argument(metavar="SAMPLE", help="A sample of a dataset: its "
                      "labels/ID.json record or any of its files (e.g. images/000012.png). "
                      "With --model: any 2D image (PNG, JPEG, TIFF, DICOM, .npy, NIfTI), "
                      "real or synthetic, or a folder of them.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the edited "
                                         "sample(s), laid out like a dataset (labels/, images/, ...).")],
    assignments: Annotated[list[str], typer.Option("--set", metavar="NAME=VALUE", help="A "
                           "parameter to change, e.g. --set kl_grade=3 (repeatable). With "
                           "--model: the class to edit toward, as the model's label column "
                           "(kl_grade=3, pneumonia=true) or class=NAME.")] = [],
    sweep: Annotated[Optional[str], typer.Option("--sweep", metavar="NAME=V1,V2,...", help=
                     "Write one edited sample per value, e.g. --sweep kl_grade=0,1,2,3,4.")] = None,
    formats: Annotated[Optional[list[str]], typer.Option("--format", "-f", help="Export "
                       "format (repeatable); default png for images, nifti for volumes.")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A class-conditioned "
                     "ddpm or ldm model folder (synthmed train): edit SAMPLE toward the class "
                     "by SDEdit instead of re-rendering it.")] = None,
    strength: Annotated[Optional[float], typer.Option("--strength", min=0.0, max=1.0, help=
                        "With --model: how far to noise the image, 0-1 (0 keeps it, 1 "
                        "ignores it; default 0.5).")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, max=1000, help="With "
                     "--model: DDIM steps over the whole schedule (default 50).")] = None,
    guidance: Annotated[Optional[float], typer.Option("--guidance", min=0.0, help="With "
                        "--model: classifier-free guidance scale (1: none; default 1).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="With --model: seed "
                    "of the noise (default 0); output k uses (seed, k).")] = None,
    device: Annotated[str, typer.Option("--device", help="With --model: cpu or cuda.")] = "cpu",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="With --model: replace an "
                         "earlier edited dataset in OUTPUT.")] = False,
    quiet: Quiet = False,
):
    """Edit a sample to specification. Without --model: re-render a synthmed sample with
    changed preset parameters (same patient, only what you ask differs). With --model:
    edit any image toward a class with a trained diffusion model (SDEdit: noise it part
    way, denoise it as the class), written as a dataset whose records name the source."""
    from synthmed.edit import edit as edit_sample
    from synthmed.edit import load_provenance, parse_assignment
    from synthmed.errors import SpecError
    from synthmed.registry import EXPORTERS
    from synthmed.run.task import sample_id, write_files

    for fmt in formats or []:
        EXPORTERS.get(fmt)  # fail before rendering anything
    changes = dict(parse_assignment(a) for a in assignments)
    variants = [changes]
    if sweep:
        name, _, values = sweep.partition("=")
        if not values:
            raise SpecError(f"--sweep {sweep!r}: give NAME=V1,V2,... e.g. kl_grade=0,1,2")
        variants = [{**changes, **dict([parse_assignment(f"{name}={v}")])}
                    for v in values.split(",")]
    if not changes and not sweep:
        raise SpecError("nothing to change: give --set NAME=VALUE or --sweep NAME=V1,V2,...")
    learned = {k: v for k, v in dict(strength=strength, num_inference_steps=steps,
                                     guidance_scale=guidance, seed=seed).items() if v is not None}
    if model is not None:
        root = _edit_with_model(sample, output, model, variants, formats, device, quiet,
                                overwrite, learned)
        out.print(f"edited dataset written to {root.resolve()}")
        return
    if learned:
        raise SynthmedError("--strength, --steps, --guidance and --seed only apply with "
                            "--model (editing with a trained model)")
    prov = load_provenance(sample)
    for change in variants:
        edited = edit_sample(prov, **change)
        sid = sample_id(prov.index) + "_" + "_".join(
            f"{k}-{str(v).replace(' ', '').replace('/', '-')}" for k, v in change.items())
        default = ["png"] if len(edited.spatial_shape) == 2 else ["nifti"]
        paths = write_files(edited, output, sid, formats or default)
        out.print(f"{sid}: {len(paths)} files, record {output / 'labels' / (sid + '.json')}")


def _edit_with_model(source, output, model_dir, variants, formats, device, quiet, overwrite,
                     settings) -> Path:
    from synthmed.evaluate._torch import require_torch
    from synthmed.learned.edit import edit_dataset, requested_class
    from synthmed.learned.sample import load_model

    require_torch()
    if any(len(v) != 1 for v in variants):
        raise SynthmedError("with --model, ask for one class: --set NAME=VALUE (once) or "
                            "--sweep NAME=V1,V2,...")
    loaded = load_model(model_dir, device)
    classes = [requested_class(loaded, *next(iter(v.items()))) for v in variants]
    return edit_dataset(loaded, source, output, classes, formats=formats, progress=not quiet,
                        overwrite=overwrite, **settings)


@app.command()
def push(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="A dataset folder made by "
                       "generate with the 'dicom' export format.")],
    dicomweb: Annotated[str, typer.Option("--dicomweb", metavar="URL", help="DICOMweb root of "
                        "the server, e.g. http://localhost:8042/dicom-web (Orthanc).")],
    batch: Annotated[int, typer.Option("--batch", min=1, max=1000, help="Files per STOW-RS "
                                       "request.")] = 20,
    query: Annotated[bool, typer.Option("--query", help="Afterwards, count this dataset's "
                     "studies, series and instances on the server (QIDO-RS).")] = False,
    quiet: Quiet = False,
):
    """Upload a dataset's DICOM files (images and SEG) to a PACS by DICOMweb STOW-RS."""
    from synthmed.push import count_on_server
    from synthmed.push import push as upload

    sent = upload(dataset, dicomweb, batch=batch, progress=not quiet)
    out.print(f"pushed {sent.files} DICOM files ({len(sent.study_uids)} studies) to {dicomweb}")
    if query:
        c = count_on_server(dicomweb, sent.study_uids)
        out.print(f"the server now has {c['studies']} studies, {c['series']} series and "
                  f"{c['instances']} instances of this dataset")


@app.command("train")
def train_model(
    data: Annotated[Path, typer.Option("--data", "-d", help="Training images: a synthmed "
                    "dataset or a folder of images (optional labels.csv with classes, masks).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder (weights, "
                      "checkpoint, model.json, model_card.md). Re-running resumes.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Generator kind: ddpm "
                 "(diffusion), vae (autoencoder), ldm (latent diffusion) or gan; all but vae "
                 "take classes, only ddpm takes masks.")] = "ddpm",
    size: Annotated[int, typer.Option("--size", min=16, max=1024, help="Images are resized "
                    "to SIZE x SIZE pixels.")] = 64,
    preset: Annotated[str, typer.Option("--preset", help="Network size: cpu (small, minutes "
                      "on a CPU) or gpu (larger, with attention).")] = "cpu",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 2000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per step.")] = 16,
    learning_rate: Annotated[float, typer.Option("--lr", min=0.0, help="Adam step "
                             "size.")] = 1e-3,
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Column "
                            "(attribute) giving each image's class; '' for none (default: "
                            "dataset classes, or a 'label'/'class'/'finding' column).")] = None,
    mask: Annotated[Optional[list[str]], typer.Option("--mask", help="Condition on this "
                    "mask (extra input channel; repeatable).")] = None,
    max_images: Annotated[Optional[int], typer.Option("--max-images", min=2, help="Use at "
                          "most this many images.")] = None,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=1, help="Steps "
                                "between checkpoints.")] = 500,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Weights, batches and "
                    "noise.")] = 0,
    device: Device = "cpu",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a model trained "
                         "differently in OUTPUT.")] = False,
    quiet: Quiet = False,
):
    """Train a generative model (MONAI) on images; needs torch and monai (the learned extra)."""
    from pydantic import ValidationError

    from synthmed.evaluate._torch import require_torch
    from synthmed.learned.data import load_training_data
    from synthmed.learned.models import MODELS, ModelConfig
    from synthmed.learned.train import TrainParams, train

    require_torch()
    if model not in MODELS:
        raise SynthmedError(f"--model {model!r} is not available; choose from {', '.join(MODELS)}")
    try:
        params = TrainParams(steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                             checkpoint_every=checkpoint_every, seed=seed)
        images = load_training_data(data, size, label_column=label_column, masks=mask,
                                    max_images=max_images)
        config = ModelConfig(model=model, size=size, preset=preset,
                             class_names=images.class_names if model != "vae" else [],
                             mask_names=images.mask_names)
    except ValidationError as exc:
        raise SynthmedError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'option'}: {e['msg']}"
                                      for e in exc.errors())) from None
    root = train(images, output, config, params, device=device, progress=not quiet,
                 overwrite=overwrite)
    meta = json.loads((root / "model.json").read_text())
    losses = meta.get("loss_parts", {"loss": meta["loss"]})  # gan: generator, discriminator
    out.print(f"model written to {root.resolve()}: {meta['steps']} steps, "
              + ", ".join(f"{k} {v['first']:.4f} -> {v['last']:.4f}" for k, v in losses.items())
              + f"; classes: {', '.join(config.class_names) or 'none'} "
              f"(card: {root / 'model_card.md'})")


@app.command("translate")
def translate(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="A brain_mri dataset (training: "
                    "exact pairs), or images / a dataset to translate with --apply.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder (training) or "
                      "folder of translated PNGs (--apply).")],
    model: Annotated[str, typer.Option("--model", "-m", help="pix2pix (paired) or cyclegan "
                     "(unpaired: source and target from different subjects).")] = "pix2pix",
    source: Annotated[str, typer.Option("--source", help="Input contrast or modality: t1, "
                      "t1c, t2, flair, pd, t2star, ct, pet.")] = "t1",
    target: Annotated[str, typer.Option("--target", help="Output contrast or modality.")] = "t2",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 2000,
    size: Annotated[int, typer.Option("--size", min=16, max=512, help="Slices are resized "
                    "to SIZE x SIZE pixels.")] = 64,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Weights and batches.")] = 0,
    apply: Annotated[Optional[Path], typer.Option("--apply", help="Apply this saved "
                     "translator instead of training one.")] = None,
    device: Device = "cpu",
    quiet: Quiet = False,
):
    """Train an image-to-image translator (T1 -> T2, MRI -> CT, ...) or apply one."""
    from synthmed.evaluate._torch import require_torch
    from synthmed.learned.translate import translate_command

    require_torch()
    root = translate_command(model, data, output, source, target, steps, size, seed, apply,
                             device=device, progress=not quiet)
    out.print(f"{'translated images' if apply else 'translator'} written to {root.resolve()}")


@app.command("sample")
def sample_model(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="A model folder made by "
                     "synthmed train.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder to write.")],
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="Number of samples.")] = 16,
    class_name: Annotated[Optional[str], typer.Option("--class", help="Class to generate "
                          "(default: drawn from the training class frequencies).")] = None,
    masks: Annotated[Optional[Path], typer.Option("--masks", help="Folder of conditioning "
                     "masks (for a model trained with --mask); sample i uses mask i.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, help="DDIM sampling "
                     "steps (ddpm, ldm; vae and gan sample in one pass).")] = 50,
    guidance: Annotated[float, typer.Option("--guidance", min=0.0, help="Classifier-free "
                        "guidance scale (1: none; not for gan).")] = 1.0,
    formats: Annotated[Optional[list[str]], typer.Option("--format", "-f", help="Export "
                       "format (repeatable); default png.")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Sample i is reproducible from "
                    "(model, seed, i).")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images sampled "
                          "together.")] = 16,
    device: Device = "cpu",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier "
                         "sampled dataset in OUTPUT.")] = False,
    quiet: Quiet = False,
):
    """Sample a trained model into a synthmed dataset (images, labels, manifest, card)."""
    from synthmed.evaluate._torch import require_torch
    from synthmed.learned.sample import sample_dataset

    require_torch()
    root = sample_dataset(model, output, n, class_name=class_name, masks_dir=masks, seed=seed,
                          num_inference_steps=steps, guidance_scale=guidance, formats=formats,
                          batch_size=batch_size, device=device, progress=not quiet,
                          overwrite=overwrite)
    out.print(f"dataset written to {root.resolve()}  (card: {root / 'dataset_card.md'})")


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(metavar="FILE_OR_DIR", help="An image (PNG, JPEG, "
                    "NIfTI, DICOM, ...) or a folder of them (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a "
                       "table.")] = False,
):
    """Say for each image whether it carries synthmed's invisible "synthetic" watermark,
    the dataset id in it, and whether it matches its dataset's manifest (untouched)."""
    from synthmed.provenance.verify import verify as run

    results = run(path)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
        return
    table = Table(title=f"synthmed verify {escape(str(path))}", title_justify="left")
    for col in ("file", "watermark", "dataset id", "manifest", "score"):
        table.add_column(col, overflow="fold")
    for r in results:
        mark = ("[red]unreadable[/red]: " + escape(r.error) if r.error else
                "[green]SYNTHETIC[/green]" if r.synthetic else "not detected")
        table.add_row(escape(r.path), mark, r.dataset_id or "-", r.manifest, f"{r.score:.1f}")
    out.print(table)
    n = sum(r.synthetic for r in results)
    out.print(f"{n} of {len(results)} images carry the synthmed watermark")


@app.command()
def schema(
    preset: Annotated[Optional[str], typer.Option("--preset", help="Include this preset's "
                                                  "parameters under `params`.")] = None,
):
    """Print the JSON Schema of a dataset spec (for editors and validation)."""
    from synthmed.spec import spec_json_schema

    print(json.dumps(spec_json_schema(preset), indent=2))


@app.command()
def validate(spec: Annotated[Path, typer.Argument(metavar="SPEC", help="YAML dataset spec.")]):
    """Check a spec without generating anything."""
    from synthmed.spec import load_spec, resolve

    plan = resolve(load_spec(spec))
    varied = [d.name for d in plan.draws if d.kind != "fixed"]
    out.print(f"{spec}: valid — {plan.spec.count} × {plan.spec.preset}; varied per sample: "
              f"{', '.join(varied) or 'nothing'}; formats: {', '.join(plan.spec.export)}")


review_app = typer.Typer(no_args_is_help=True, help="Expert reader study in the browser: "
                         "visual Turing test and grading (needs synthmed[review]).")
app.add_typer(review_app, name="review")


@review_app.command("create")
def review_create(
    real: Annotated[Path, typer.Option("--real", "-r", help="Real images (folder or dataset).")],
    synthetic: Annotated[Path, typer.Option("--synthetic", "-s", help="Synthetic images "
                         "(folder or synthmed dataset).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="New study folder.")],
    readers: Annotated[int, typer.Option("--readers", min=1, max=1000, help="Number of "
                       "readers (one private link each).")],
    per_reader: Annotated[Optional[int], typer.Option("--per-reader", min=2, help="Images per "
                          "reader, even: half real, half synthetic (default: all).")] = None,
    task: Annotated[str, typer.Option("--task", help="turing (real or synthetic), grade, "
                    "or both.")] = "turing",
    grade_max: Annotated[int, typer.Option("--grade-max", min=1, max=100, help="Grades run "
                         "from 0 to this (e.g. 4 for KL or ICDR).")] = 4,
    grade_name: Annotated[str, typer.Option("--grade-name", help="What the grade is, as "
                          "readers and the results see it (e.g. \"KL grade\").")] = "grade",
    size: Annotated[int, typer.Option("--size", min=32, max=2048, help="Images are shown "
                    "as SIZE x SIZE 8-bit grey PNGs.")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Seed of sampling and order.")] = 0,
    base_url: Annotated[str, typer.Option("--base-url", help="Address readers will use "
                        "(where review serve listens).")] = "http://127.0.0.1:8000",
):
    """Prepare a reader study: balanced, clue-free images and one private link per reader."""
    from synthmed.review.study import create_study

    links = create_study(real, synthetic, output, readers, per_reader=per_reader, task=task,
                         seed=seed, size=size, grade_max=grade_max, grade_name=grade_name)
    out.print(f"study written to {output.resolve()}; start it with: synthmed review serve "
              f"{output}", soft_wrap=True)
    _print_links(links, base_url)


@review_app.command("links")
def review_links(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="A study folder made by "
                     "review create.")],
    base_url: Annotated[str, typer.Option("--base-url", help="Address readers will use "
                        "(where review serve listens).")] = "http://127.0.0.1:8000",
):
    """Print a study's private reader links and the owner's results link again."""
    from synthmed.review.study import study_links

    _print_links(study_links(study), base_url)


def _print_links(links, base_url: str) -> None:
    base = base_url.rstrip("/")
    for i, link in enumerate(links.readers, start=1):
        out.print(f"reader {i}: {base}{link}", soft_wrap=True, highlight=False)
    out.print(f"owner (results): {base}{links.owner}", soft_wrap=True, highlight=False)


@review_app.command("serve")
def review_serve(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="A study folder made by "
                     "review create.")],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
):
    """Serve a reader study (FastAPI + uvicorn) until Ctrl-C."""
    try:
        import uvicorn

        from synthmed.review.app import create_app
    except ImportError as exc:
        raise SynthmedError(f"the reader study server needs fastapi and uvicorn ({exc.name} "
                            "is missing): pip install 'synthmed[review]'") from None
    from synthmed.review.study import study_links

    web = create_app(study)
    err.print(f"owner (results): http://{host}:{port}{study_links(study).owner}",
              soft_wrap=True, highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")


@review_app.command("results")
def review_results(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="A study folder.")],
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Also write per-reader "
                        "and pooled scores to this CSV file.")] = None,
):
    """Accuracy, sensitivity and specificity for "synthetic" (per reader and pooled) with
    exact 95 % intervals and binomial tests, ROC AUC of the confidence-signed calls, Fleiss'
    kappa and grading agreement (weighted kappa, ICC(2,1))."""
    from synthmed.review.results import study_results, write_results_csv

    res = study_results(study)
    table = Table(title=f"reader study {escape(str(study))} (positive = synthetic)",
                  title_justify="left")
    for col in ("reader", "answers", "accuracy (95% CI)", "p vs 0.5", "sensitivity",
                "specificity", "ROC AUC"):
        table.add_column(col)
    for name, s in [*res["readers"].items(), ("pooled", res["pooled"])]:
        table.add_row(str(name), str(s["n"]), _interval(s["accuracy"]), f"{s['p_value']:.3g}",
                      _interval(s["sensitivity"]), _interval(s["specificity"]),
                      f"{s['roc_auc']:.3f}")
    out.print(table)
    fk, gk, icc = res["fleiss_kappa"], res["grade_kappa"], res["grade_icc"]
    out.print(f"Fleiss' kappa: {fk['kappa']:.3f} ({fk['items']} items read by all "
              f"{fk['readers']} readers)")
    out.print(f"{escape(res['grade_name'])} agreement: quadratic-weighted kappa real "
              f"{gk['real']['kappa']:.3f}, synthetic {gk['synthetic']['kappa']:.3f}; ICC(2,1) "
              f"real {icc['real']['icc']:.3f} ({icc['real']['items']} items), synthetic "
              f"{icc['synthetic']['icc']:.3f} ({icc['synthetic']['items']} items graded by all)")
    if csv_path:
        write_results_csv(res, csv_path)
        out.print(f"CSV written to {csv_path.resolve()}")

def _interval(p: dict) -> str:
    return f"{p['value']:.3f} ({p['ci_low']:.3f}-{p['ci_high']:.3f})"


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "choice"
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; turn user errors into one message and exit code 2."""
    try:
        code = app(args=argv, prog_name="synthmed", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        show() if show else err.print(f"Error: {exc.format_message()}", highlight=False)
        code = 2
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        code = 2
    except SynthmedError as exc:
        err.print("[red]error:[/red]", escape(str(exc)), highlight=False, soft_wrap=True)
        code = 2
    except OSError as exc:
        err.print("[red]error:[/red]", escape(f"{exc.strerror or exc}: {exc.filename or ''}"),
                  highlight=False, soft_wrap=True)
        code = 2
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
