"""DICOM export: DX radiographs, CT or MR image series, with a DICOM-SEG of the masks.

Files (relative to the dataset root, ``id`` = sample id)
--------------------------------------------------------
``dicom/{id}/{name}.dcm``         2D image ``name``: Digital X-Ray Image Storage - For
                                  Presentation (DX IOD); role ``dicom/<name>``
``dicom/{id}/{name}/0001.dcm``    3D image ``name``: CT or MR Image Storage, one file per
                                  slice, ``0001`` = slice index 0 (most inferior); role
                                  ``dicom/<name>/0001``
``dicom/{id}/seg.dcm``            Segmentation Storage (BINARY) of the masks; role ``dicom_seg``

Every named image is its own series in one study per sample; the SEG references the
first image's series. A sample without masks gets no SEG.

What can be exported, and how the pixels are stored
---------------------------------------------------
=========  ========  =====  ====================================================
modality   axes      units  stored as
=========  ========  =====  ====================================================
``"DX"``   2D gray   ``1``  uint16 ``round(clip(v, 0, 1) * 65535)``, MONOCHROME2,
                            BitsStored 16, RescaleSlope 1, RescaleIntercept 0
                            (the DX IOD allows no other), WindowCenter 32768,
                            WindowWidth 65536 (shows the values as they are);
                            decoded as ``p / 65535`` (error <= 0.5/65535), as PNG
``"CT"``   3D gray   ``HU`` int16 ``round(HU)`` clipped to [-32768, 32767] (exact
                            for integer HU), RescaleSlope 1, RescaleIntercept 0,
                            RescaleType HU, as NIfTI
``"MR"``   3D gray   any    images in HU: a CT series as above (a paired CT); other
                            units (MR signal has no absolute scale): uint16,
                            BitsStored 12, ``round(v / max * 4095)`` per series;
                            ScanningSequence, SequenceVariant, MRAcquisitionType,
                            RepetitionTime, EchoTime, InversionTime and FlipAngle
                            from ``labels.attributes["<name>_<keyword>"]``
                            (``brain_mri`` records them), MagneticFieldStrength from
                            ``field_strength_t``; otherwise research mode (``RM``)
=========  ========  =====  ====================================================

Anything else (RGB, 3D radiographs, PET ``SUV`` images, other units or modalities) raises
:class:`~synthmed.errors.SynthmedError` before a file is written.

Patient coordinates (CT and MR)
-------------------------------
DICOM's patient system is LPS, in mm: +x to the patient's left, +y posterior, +z superior.
A volume ``array[k, j, i]`` (``(z, y, x)``, ``spacing_mm = (dz, dy, dx)``) is placed with
rows going posterior, columns to the left and slices upwards; voxel ``(k, j, i)`` is at
``(x, y, z) = (i*dx, j*dy, k*dz)``: ImageOrientationPatient ``1\\0\\0\\0\\1\\0``,
ImagePositionPatient of slice ``k`` ``0\\0\\k*dz``, PixelSpacing ``dy\\dx``, SliceThickness
and SpacingBetweenSlices ``dz``. The NIfTI exporter writes the same geometry in RAS
(affine ``diag(-dx, -dy, dz, 1)``). Radiographs have no 3D frame: PatientOrientation
``L\\F`` (columns run to the patient's left, rows to the feet: a PA/AP film as displayed).

Identity, UIDs and dates (so re-exporting gives the same bytes)
---------------------------------------------------------------
UIDs are ``pydicom.uid.generate_uid(entropy_srcs=...)`` of the sample's provenance (preset,
params, seed, index and edits; not the software versions), its id and the object's role.
The study, series, content and instance-creation date/time is a made-up instant in
2000-2019 fixed by the same (:func:`synthetic_datetime`); no header holds the time of
export, and whatever highdicom fills from the clock or at random is overwritten. PatientID
is ``SYN-{seed}-{index}`` and PatientName ``SYNTHETIC^SYN-{seed}-{index}`` (an edited
sample keeps its patient); PatientSex and PatientAge come from ``labels.attributes``
(``sex``, ``age_years``) when present. No real person's data is written.

How "synthetic" is marked
-------------------------
ImageType ``DERIVED\\SECONDARY`` (CT adds ``AXIAL``); SeriesDescription, ImageComments and
the SEG's ContentDescription say ``SYNTHETIC``; BurnedInAnnotation and
RecognizableVisualFeatures ``NO``; PatientIdentityRemoved ``YES`` with
DeidentificationMethod ``synthetic data, no patient``; Manufacturer ``synthmed``; and a
ContributingEquipmentSequence item (Manufacturer ``synthmed``, PurposeOfReferenceCode
DCM 109100 "Synthesizing Equipment"); ImageComments also names the dataset id that the
invisible watermark hides in the pixel data (:mod:`synthmed.provenance.watermark`). The newer SyntheticData attribute (0008,001C) is not
written: the dciodvfy of Debian 12 (dicom3tools 2022) rejects it as unknown.

Segmentation
------------
Every ``label_table`` entry becomes one segment, in increasing id order, numbered 1, 2, ...
(equal to the label id for tables numbered 1..N, as every preset's is), labelled with its
name; an entry without a mask in this sample is an empty segment, so segment ``n`` means
the same structure in every sample of a dataset. SegmentedPropertyCategory/Type codes come
from a small table of known names (SNOMED CT); other names get "Anatomical Structure".

Example
-------
>>> import tempfile, numpy as np, pydicom
>>> from synthmed.sample import Labels, Provenance, Sample
>>> hu = np.full((3, 4, 5), -1000, np.float32)
>>> ball = np.zeros((3, 4, 5), bool); ball[1, 1:3, 1:4] = True
>>> s = Sample(images={"ct": hu}, spacing_mm=(2.5, 0.7, 0.6), modality="CT",
...            units={"ct": "HU"}, provenance=Provenance(preset="doc", seed=1, index=0),
...            labels=Labels(masks={"liver": ball}, label_table={"liver": 1}))
>>> root = tempfile.mkdtemp()
>>> files = export_dicom(s, root, "000000")
>>> sorted(files)
['dicom/ct/0001', 'dicom/ct/0002', 'dicom/ct/0003', 'dicom_seg']
>>> ds = pydicom.dcmread(f"{root}/{files['dicom/ct/0003']}")
>>> [float(v) for v in ds.ImagePositionPatient], [float(v) for v in ds.PixelSpacing]
([0.0, 0.0, 5.0], [0.7, 0.6])
>>> str(ds.PatientID), ds.SeriesDescription
('SYN-1-0', 'SYNTHETIC doc ct')
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.coding import Code
from pydicom.sr.codedict import codes
from pydicom.uid import (CTImageStorage, DigitalXRayImageStorageForPresentation,
                         ExplicitVRLittleEndian, MRImageStorage, generate_uid)
from pydicom.valuerep import DSfloat

from synthmed import __version__
from synthmed._io import atomic_path
from synthmed.errors import SynthmedError
from synthmed.export._common import SYNTHETIC_DESCRIPTION, check_name
from synthmed.registry import register_exporter
from synthmed.sample import Sample

__all__ = ["export_dicom", "synthetic_datetime", "SEGMENT_CODES"]

_ANATOMY = codes.SCT.AnatomicalStructure
_ABNORMAL = codes.SCT.MorphologicallyAbnormalStructure
#: Segment name -> (SegmentedPropertyCategory, SegmentedPropertyType); others: _GENERIC.
SEGMENT_CODES: dict[str, tuple[Code, Code]] = {
    "lung": (_ANATOMY, codes.SCT.Lung),
    "lung_right": (_ANATOMY, Code("3341006", "SCT", "Right lung")),
    "lung_left": (_ANATOMY, Code("44029006", "SCT", "Left lung")),
    "heart": (_ANATOMY, codes.SCT.Heart),
    "liver": (_ANATOMY, codes.SCT.Liver),
    "kidney": (_ANATOMY, codes.SCT.Kidney),
    "spleen": (_ANATOMY, codes.SCT.Spleen),
    "brain": (_ANATOMY, codes.SCT.Brain),
    "bone": (_ANATOMY, codes.SCT.Bone),
    "femur": (_ANATOMY, codes.SCT.Femur),
    "tibia": (_ANATOMY, codes.SCT.Tibia),
    "consolidation": (_ABNORMAL, Code("95436008", "SCT", "Lung consolidation")),
    "nodule": (_ABNORMAL, codes.SCT.Nodule),
    "mass": (_ABNORMAL, codes.SCT.Mass),
    "lesion": (_ABNORMAL, codes.SCT.Lesion),
    "tumour": (_ABNORMAL, codes.SCT.Neoplasm),
    "effusion": (_ABNORMAL, codes.SCT.Effusion),
    "pneumothorax": (_ABNORMAL, codes.SCT.Pneumothorax),
}
_GENERIC = (_ANATOMY, _ANATOMY)
_VIEWS = {"PA": codes.cid4010.PosteroAnterior, "AP": codes.cid4010.AnteroPosterior,
          "LL": codes.cid4010.LeftLateral, "RL": codes.cid4010.RightLateral}
_SEG_FILE = "seg"
_DEIDENTIFICATION = "synthetic data, no patient"
_EPOCH = datetime(2000, 1, 1)
_SPAN_S = 20 * 365 * 86400


def synthetic_datetime(identity: str) -> datetime:
    """A made-up acquisition instant in 2000-2019 (whole seconds), fixed by ``identity``.

    >>> synthetic_datetime("a") == synthetic_datetime("a") != synthetic_datetime("b")
    True
    """
    h = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big")
    return _EPOCH + timedelta(seconds=h % _SPAN_S)


@dataclass(frozen=True)
class _Context:
    """What every object of one sample shares: identity, UIDs, date, patient and study."""

    sample: Sample
    sample_id: str
    identity: str
    when: datetime

    @classmethod
    def of(cls, sample: Sample, sample_id: str) -> _Context:
        prov = sample.provenance.to_dict()
        prov.pop("versions")
        identity = json.dumps({**prov, "id": sample_id}, sort_keys=True)
        return cls(sample, sample_id, identity, synthetic_datetime(identity))

    def uid(self, *role: object) -> str:
        """Deterministic UID of one object (``"study"``, ``("series", name)``, ...)."""
        return generate_uid(entropy_srcs=["synthmed", self.identity, *map(str, role)])

    @property
    def date(self) -> str:
        return self.when.strftime("%Y%m%d")

    @property
    def time(self) -> str:
        return self.when.strftime("%H%M%S")

    def description(self, what: str) -> str:
        return f"SYNTHETIC {self.sample.provenance.preset or 'synthmed'} {what}"[:64]


# ----------------------------------------------------------------------------- checks
def _kinds(sample: Sample) -> dict[str, str]:
    """Each image's series kind (``"DX"``, ``"CT"`` or ``"MR"``); raise for what the DICOM
    exporter cannot store."""
    n = len(sample.spatial_shape)
    allowed = {2: ("DX",), 3: ("CT", "MR")}[n]
    if sample.modality not in allowed:
        raise SynthmedError(f"DICOM export writes {n}D samples as {' or '.join(allowed)} only, "
                            f"but this sample's modality is {sample.modality!r}; use the npz "
                            "or nifti format for it")
    kinds = {}
    for name, image in sample.images.items():
        check_name("image", name)
        units = sample.units.get(name, "1")
        kind = "CT" if units == "HU" and n == 3 else sample.modality
        need = {"DX": "1", "CT": "HU"}.get(kind)
        if units == "SUV":
            raise SynthmedError(f"image {name!r} is PET-like (SUV), which the DICOM exporter "
                                "does not write; leave it out (brain_mri: paired_pet: false) "
                                "or use the nifti or npz format")
        if image.ndim != n or (need and units != need):
            raise SynthmedError(f"image {name!r} (shape {image.shape}, units {units!r}) cannot "
                                f"be stored as {kind}: DICOM export needs grayscale images "
                                + (f"in units {need!r}" if need else "")
                                + "; use the npz or nifti format")
        if not np.all(np.isfinite(image)):
            raise SynthmedError(f"image {name!r} contains NaN or infinite values; DICOM "
                                "cannot store them (use npz)")
        kinds[name] = kind
    if _SEG_FILE in sample.images:
        raise SynthmedError(f"an image named {_SEG_FILE!r} clashes with the DICOM-SEG file; "
                            "rename the image")
    return kinds


def _ds(value: float) -> DSfloat:
    """A decimal string of at most 16 characters (DICOM's DS limit)."""
    return DSfloat(float(value), auto_format=True)


def _attribute(ctx: _Context, key: str) -> float | None:
    """A numeric scalar of ``labels.attributes`` (``kvp``, ``age_years``, ...), else None."""
    value = ctx.sample.labels.attributes.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


# ----------------------------------------------------------------------------- modules
def _equipment(ctx: _Context) -> hd.ContributingEquipment:
    return hd.ContributingEquipment(
        manufacturer="synthmed", purpose_of_reference=codes.DCM.SynthesizingEquipment,
        manufacturer_model_name="synthmed", software_versions=__version__,
        contribution_datetime=ctx.when,
        contribution_description=f"{SYNTHETIC_DESCRIPTION}: made by synthmed")


def _patient_study(ds: Dataset, ctx: _Context) -> None:
    """Patient (synthetic identity), General Study and Patient Study modules."""
    prov, attrs = ctx.sample.provenance, ctx.sample.labels.attributes
    ds.PatientID = f"SYN-{prov.seed}-{prov.index}"
    ds.PatientName = f"SYNTHETIC^{ds.PatientID}"
    ds.PatientBirthDate = ""
    ds.PatientSex = attrs["sex"] if attrs.get("sex") in ("F", "M", "O") else ""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = _DEIDENTIFICATION
    age = _attribute(ctx, "age_years")
    if age is not None:
        ds.PatientAge = f"{int(age):03d}Y" if age >= 1 else f"{int(age * 12):03d}M"
    ds.StudyInstanceUID = ctx.uid("study")
    ds.StudyDate, ds.StudyTime = ctx.date, ctx.time
    ds.ReferringPhysicianName = ""
    ds.StudyID = ctx.sample_id[:16]
    ds.AccessionNumber = ""
    ds.StudyDescription = ctx.description("study")


def _image_base(ctx: _Context, sop_class: str, sop_uid: str, name: str, series_number: int,
                instance_number: int) -> Dataset:
    """File meta, SOP Common, patient/study, General Series/Equipment/Image, Image Pixel."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = ctx.date, ctx.time
    ds.ContributingEquipmentSequence = [_equipment(ctx)]
    _patient_study(ds, ctx)
    ds.Modality = ctx.sample.modality
    ds.SeriesInstanceUID = ctx.uid("series", name)
    ds.SeriesNumber = series_number
    ds.SeriesDate, ds.SeriesTime = ctx.date, ctx.time
    ds.SeriesDescription = ctx.description(name)
    ds.Manufacturer = "synthmed"
    ds.ManufacturerModelName = "synthmed"
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = ctx.date, ctx.time
    ds.AcquisitionNumber = 1
    ds.ImageComments = f"{SYNTHETIC_DESCRIPTION}; made by synthmed {__version__}" + (
        f"; dataset {prov_id}" if (prov_id := ctx.sample.provenance.dataset_id) else "")
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "NO"
    ds.LossyImageCompression = "00"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    ds.PixelData = np.ascontiguousarray(pixels, pixels.dtype.newbyteorder("<")).tobytes()


def _dx(ctx: _Context, name: str, image: np.ndarray, series_number: int) -> Dataset:
    """One DX For Presentation image of a [0, 1] radiograph."""
    ds = _image_base(ctx, DigitalXRayImageStorageForPresentation, ctx.uid("image", name),
                     name, series_number, 1)
    attrs = ctx.sample.labels.attributes
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "U"
    ds.AnatomicRegionSequence = []
    ds.AcquisitionContextSequence = []
    ds.PositionerType = ""
    if attrs.get("view") in _VIEWS:
        ds.ViewPosition = attrs["view"]
        ds.ViewCodeSequence = [hd.sr.CodedConcept.from_code(_VIEWS[attrs["view"]])]
    kvp, mas = _attribute(ctx, "kvp"), _attribute(ctx, "mas")
    if kvp is not None:
        ds.KVP = _ds(kvp)
    if mas is not None:
        ds.ExposureInuAs = round(mas * 1000)
    ds.DetectorType = ""
    ds.ImagerPixelSpacing = ds.PixelSpacing = [_ds(v) for v in ctx.sample.spacing_mm]
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1  # bright = attenuating = less X-ray intensity
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 32768, 65536
    ds.PresentationLUTShape = "IDENTITY"
    pixels = np.rint(np.clip(image.astype(np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)
    _set_pixels(ds, pixels)
    return ds


def _series(ctx: _Context, kind: str, name: str, volume: np.ndarray,
            series_number: int) -> list[Dataset]:
    """A CT (HU) or MR image series, one dataset per slice (bottom to top)."""
    dz, dy, dx = (float(v) for v in ctx.sample.spacing_mm)
    if kind == "CT":
        pixels = np.clip(np.rint(volume.astype(np.float64)), -32768, 32767).astype(np.int16)
    else:
        peak = float(volume.max()) or 1.0
        pixels = np.rint(np.clip(volume / peak, 0, 1) * 4095).astype(np.uint16)
    slices = []
    for k in range(pixels.shape[0]):
        ds = _image_base(ctx, CTImageStorage if kind == "CT" else MRImageStorage,
                         ctx.uid("image", name, k), name, series_number, k + 1)
        ds.Modality = kind
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL" if kind == "CT" else "OTHER"]
        ds.FrameOfReferenceUID = ctx.uid("frame_of_reference")
        ds.PositionReferenceIndicator = ""
        ds.PatientPosition = "HFS"
        ds.Laterality = ""
        ds.ImageOrientationPatient = [_ds(v) for v in (1, 0, 0, 0, 1, 0)]
        ds.ImagePositionPatient = [_ds(0), _ds(0), _ds(k * dz)]
        ds.SliceLocation = _ds(k * dz)
        ds.PixelSpacing = [_ds(dy), _ds(dx)]
        ds.SliceThickness = ds.SpacingBetweenSlices = _ds(dz)
        if kind == "CT":
            kvp = _attribute(ctx, "kvp")
            ds.KVP = "" if kvp is None else _ds(kvp)
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
            ds.WindowCenter, ds.WindowWidth = 40, 400  # soft tissue
        else:
            _mr_protocol(ds, ctx, name)
            ds.WindowCenter, ds.WindowWidth = 2048, 4096
        _set_pixels(ds, pixels[k])
        if kind == "MR":
            ds.BitsStored, ds.HighBit = 12, 11
        slices.append(ds)
    return slices


def _mr_protocol(ds: Dataset, ctx: _Context, name: str) -> None:
    """MR Image module attributes from ``labels.attributes["<name>_<keyword>"]``."""
    attrs = ctx.sample.labels.attributes

    def get(keyword: str):
        return attrs.get(f"{name}_{keyword}")

    ds.ScanningSequence = str(get("ScanningSequence") or "RM").split("\\")
    ds.SequenceVariant = str(get("SequenceVariant") or "NONE").split("\\")
    ds.ScanOptions = ""
    ds.MRAcquisitionType = get("MRAcquisitionType") or ""
    ds.SequenceName = f"SYNTHETIC {name}"[:16]
    ds.EchoTrainLength = ""
    for keyword in ("RepetitionTime", "EchoTime", "InversionTime", "FlipAngle"):
        value = _attribute(ctx, f"{name}_{keyword}")
        if value is not None:
            setattr(ds, keyword, _ds(value))
        elif keyword in ("RepetitionTime", "EchoTime"):
            setattr(ds, keyword, "")
    field = _attribute(ctx, "field_strength_t")
    if field is not None:
        ds.MagneticFieldStrength = _ds(field)


# ----------------------------------------------------------------------------- SEG
def _segment(number: int, name: str, algorithm: hd.AlgorithmIdentificationSequence
             ) -> hd.seg.SegmentDescription:
    category, kind = SEGMENT_CODES.get(name.lower(), _GENERIC)
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=name, segmented_property_category=category,
        segmented_property_type=kind, algorithm_type="AUTOMATIC",
        algorithm_identification=algorithm)


def _seg(ctx: _Context, sources: list[Dataset]) -> Dataset:
    """BINARY DICOM-SEG of every label_table entry (see the module docstring)."""
    lab = ctx.sample.labels
    names = [n for n, _ in sorted(lab.label_table.items(), key=lambda kv: (kv[1], kv[0]))]
    shape = ctx.sample.spatial_shape
    stack = np.stack([np.asarray(lab.masks.get(n, np.zeros(shape, bool)), bool)
                      for n in names], axis=-1)
    if stack.ndim == 3:  # a radiograph: one frame
        stack = stack[np.newaxis]
    # the masks are rasterised from the phantom's geometry: shape operations, not learned
    algorithm = hd.AlgorithmIdentificationSequence(
        name="synthmed", version=__version__, family=codes.cid7162.MorphologicalOperations)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=stack, segmentation_type="BINARY",
        segment_descriptions=[_segment(i + 1, n, algorithm) for i, n in enumerate(names)],
        series_instance_uid=ctx.uid("series", _SEG_FILE),
        series_number=len(ctx.sample.images) + 1,
        sop_instance_uid=ctx.uid("image", _SEG_FILE), instance_number=1,
        manufacturer="synthmed", manufacturer_model_name="synthmed",
        software_versions=__version__, device_serial_number="SYNTHETIC",
        content_label="SYNTHMED", content_description=ctx.description("masks"),
        content_creator_name="SYNTHETIC^synthmed", contributing_equipment=[_equipment(ctx)],
        series_description=ctx.description("segmentation"),
        content_date=ctx.date, content_time=ctx.time,
        series_date=ctx.date, series_time=ctx.time)
    if "PatientOrientation" in sources[0]:  # a radiograph: no plane orientation to copy
        seg.PatientOrientation = sources[0].PatientOrientation
        # a projection has no SliceThickness, and highdicom 0.28 cannot read back Pixel
        # Measures without it; the spacing stays in the referenced DX image
        del seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence
    return _make_deterministic(seg, ctx)


def _make_deterministic(seg: Dataset, ctx: _Context) -> Dataset:
    """Replace what highdicom fills from the clock or at random with values fixed by ``ctx``."""
    seg.InstanceCreationDate, seg.InstanceCreationTime = ctx.date, ctx.time
    for item in seg.ContributingEquipmentSequence:
        item.ContributionDateTime = ctx.when.strftime("%Y%m%d%H%M%S")
    dimension_uid = ctx.uid("dimension_organization")
    for item in (*seg.DimensionOrganizationSequence, *seg.DimensionIndexSequence):
        item.DimensionOrganizationUID = dimension_uid
    return seg


@register_exporter("dicom")
def export_dicom(sample: Sample, root: str | os.PathLike, sample_id: str) -> dict[str, str]:
    """DICOM: a DX image per 2D radiograph or a CT/MR series per volume, plus a DICOM-SEG.

    Returns ``{role: path relative to root}``: ``dicom/<name>`` (DX),
    ``dicom/<name>/0001``, ... (CT/MR slices) and ``dicom_seg``. Every object is built
    before the first file is written. See the module docstring for what is stored, the
    coordinate convention and how "synthetic" is marked.
    """
    kinds = _kinds(sample)
    ctx = _Context.of(sample, sample_id)
    objects: dict[str, Dataset] = {}  # role -> dataset
    for number, (name, image) in enumerate(sample.images.items(), start=1):
        if kinds[name] == "DX":
            objects[f"dicom/{name}"] = _dx(ctx, name, image, number)
        else:
            objects.update((f"dicom/{name}/{k + 1:04d}", ds) for k, ds in enumerate(
                _series(ctx, kinds[name], name, image, number)))
    if sample.labels.masks:
        first = next(iter(sample.images))
        sources = [ds for role, ds in objects.items() if role.split("/")[1] == first]
        objects["dicom_seg"] = _seg(ctx, sources)
    files = {}
    for role, ds in objects.items():
        rel = f"dicom/{sample_id}/{_SEG_FILE if role == 'dicom_seg' else role[6:]}.dcm"
        with atomic_path(Path(root) / rel) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        files[role] = rel
    return files
