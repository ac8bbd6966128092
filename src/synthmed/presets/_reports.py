"""Radiology-style report text written from a sample's labels (small, wording only)."""

from __future__ import annotations

__all__ = ["chest_xray_report", "knee_xray_report", "lung_ct_report"]

_LOBE_WORDS = {
    "RUL": "right upper lobe", "RML": "right middle lobe", "RLL": "right lower lobe",
    "LUL": "left upper lobe", "lingula": "lingula", "LLL": "left lower lobe",
}


def _size_word(d_mm: float) -> str:
    return "mass" if d_mm > 30 else "nodule"


def chest_xray_report(classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for a chest radiograph from ``classes`` and ``attributes``.

    >>> print(chest_xray_report({"pneumonia": False, "nodule": False, "effusion": False,
    ...     "cardiomegaly": False, "pneumothorax": False},
    ...     {"view": "PA", "cardiothoracic_ratio": 0.46}))  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: PA chest radiograph. Heart size normal (CTR 0.46). Lungs clear.
    No pleural effusion or pneumothorax.
    IMPRESSION: No acute cardiopulmonary abnormality.
    """
    a = attributes
    f = [f"{a.get('view', 'PA')} chest radiograph."]
    imp = []
    ctr = a.get("cardiothoracic_ratio", 0.0)
    if classes.get("cardiomegaly"):
        f.append(f"The heart is enlarged (CTR {ctr:.2f}).")
        imp.append("Cardiomegaly.")
    else:
        f.append(f"Heart size normal (CTR {ctr:.2f}).")
    lung = []
    if classes.get("pneumonia"):
        where = _LOBE_WORDS.get(a.get("pneumonia_lobe", ""), "lung")
        if a.get("pneumonia_pattern") == "patchy":
            lung.append(f"Patchy airspace opacities in the {where}.")
            imp.append(f"Patchy {where} opacities, in keeping with bronchopneumonia.")
        else:
            lung.append(f"{where[0].upper() + where[1:]} consolidation with air bronchograms.")
            imp.append(f"{where[0].upper() + where[1:]} pneumonia.")
    if classes.get("nodule"):
        d = float(a.get("nodule_diameter_mm", 0))
        word = _size_word(d)
        zone = a.get("nodule_location", "lung")
        lung.append(f"{d:.0f} mm {word} in the {zone}.")
        imp.append(f"{word.capitalize()} in the {zone}; further evaluation with CT recommended.")
    f.extend(lung or ["Lungs clear."])
    pleura = []
    if classes.get("effusion"):
        side = a.get("effusion_side", "right")
        words = "Bilateral pleural effusions" if side == "bilateral" else f"{side.capitalize()} pleural effusion"
        pleura.append(f"{words} with blunting of the costophrenic angle.")
        imp.append(f"{words}.")
    if classes.get("pneumothorax"):
        side = a.get("pneumothorax_side", "right")
        pleura.append(f"{side.capitalize()} apical pneumothorax; visceral pleural line visible.")
        imp.append(f"{side.capitalize()} pneumothorax.")
    if not classes.get("effusion") and not classes.get("pneumothorax"):
        pleura.append("No pleural effusion or pneumothorax.")
    elif not classes.get("effusion"):
        pleura.append("No pleural effusion.")
    elif not classes.get("pneumothorax"):
        pleura.append("No pneumothorax.")
    f.extend(pleura)
    devices = []
    if a.get("central_line"):
        devices.append("Right central venous catheter, tip at the cavoatrial junction.")
    if a.get("ecg_leads"):
        devices.append("ECG leads overlie the chest.")
    f.extend(devices)
    impression = " ".join(imp) if imp else "No acute cardiopulmonary abnormality."
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + impression


_KL_WORDS = {0: "No radiographic osteoarthritis", 1: "Doubtful osteoarthritis",
             2: "Mild osteoarthritis", 3: "Moderate osteoarthritis", 4: "Severe osteoarthritis"}


def _jsw_word(jsw_mm: float, normal_mm: float) -> str:
    loss = 1.0 - jsw_mm / normal_mm
    return ("preserved" if loss < 0.2 else "mildly narrowed" if loss < 0.4
            else "moderately narrowed" if loss < 0.7 else "severely narrowed")


def knee_xray_report(classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for a knee radiograph from ``classes`` and ``attributes``.

    >>> print(knee_xray_report({"osteoarthritis": True}, {"view": "PA", "laterality": "L",
    ...     "kl_grade": 3, "medial_jsw_mm": 2.1, "lateral_jsw_mm": 5.0, "osteophyte_count": 2,
    ...     "osteophyte_size_mm": 3.0, "osteophyte_sites": "medial_tibial,medial_femoral",
    ...     "sclerosis": 0.3, "cyst_count": 0, "deformity": 0.2, "age_years": 66})
    ...     )  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: PA weight-bearing radiograph of the left knee. Medial joint space moderately
    narrowed (2.1 mm); lateral joint space preserved (5.0 mm). Marginal osteophytes (largest
    3.0 mm) at the medial tibial and medial femoral margins. Mild subchondral sclerosis.
    Early flattening of the medial femoral condyle.
    IMPRESSION: Moderate osteoarthritis of the left knee (Kellgren-Lawrence grade 3).
    """
    a = attributes
    side = {"L": "left", "R": "right"}.get(a.get("laterality", "R"), "right")
    f = [f"{a.get('view', 'PA')} weight-bearing radiograph of the {side} knee."]
    child = a.get("age_years", 60) < 18
    med, lat = float(a.get("medial_jsw_mm", 5.0)), float(a.get("lateral_jsw_mm", 6.0))
    f.append(f"Medial joint space {_jsw_word(med, 5.0)} ({med:.1f} mm); lateral joint space "
             f"{_jsw_word(lat, 6.0)} ({lat:.1f} mm).")
    n = int(a.get("osteophyte_count", 0))
    if n:
        sites = [s.replace("_", " ") for s in str(a.get("osteophyte_sites", "")).split(",") if s]
        where = " and ".join(sites[:2]) + (f" and {len(sites) - 2} other" if len(sites) > 2 else "")
        f.append(f"Marginal osteophytes (largest {float(a['osteophyte_size_mm']):.1f} mm) at "
                 f"the {where} margins." if n > 1 else
                 f"Osteophytic lipping ({float(a['osteophyte_size_mm']):.1f} mm) at the "
                 f"{where} margin.")
    elif not child:
        f.append("No osteophytes.")
    scl = float(a.get("sclerosis", 0.0))
    if scl >= 0.15:
        f.append(f"{'Mild' if scl < 0.4 else 'Moderate' if scl < 0.7 else 'Marked'} "
                 "subchondral sclerosis.")
    if int(a.get("cyst_count", 0)):
        k = int(a["cyst_count"])
        f.append(f"{k} subchondral cyst{'s' if k > 1 else ''}.")
    dfm = float(a.get("deformity", 0.0))
    if dfm >= 0.15:
        f.append("Early flattening of the medial femoral condyle." if dfm < 0.5 else
                 "Flattening and remodelling of the medial femoral condyle and tibial plateau.")
    if child:
        f.append("Growth plates open." if a.get("open_physes") else "Growth plates fused.")
    grade = int(a.get("kl_grade", 0))
    imp = f"{_KL_WORDS[grade]} of the {side} knee (Kellgren-Lawrence grade {grade})."
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + imp

_COVID_WORDS = {"ggo": "ground-glass opacities", "consolidation": "consolidation",
                "crazy_paving": "ground-glass opacities with superimposed interlobular septal "
                                "thickening (crazy paving)",
                "mixed": "ground-glass opacities with areas of consolidation and crazy paving"}
_COVID_WHERE = {"peripheral_lower": "peripheral, subpleural and lower-lobe predominant",
                "peripheral": "peripheral and subpleural", "lower": "lower-lobe predominant",
                "diffuse": "diffuse", "central": "central, peribronchovascular"}


def _effusion_size(ml: float) -> str:
    return "small" if ml < 250 else "moderate" if ml < 1000 else "large"


def lung_ct_report(classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for a chest CT from ``classes`` and ``attributes``.

    >>> print(lung_ct_report({"covid": True, "nodule": False, "emphysema": False,
    ...     "effusion": False}, {"slice_thickness_mm": 2.5, "kernel": "lung",
    ...     "covid_pattern": "ggo", "covid_distribution": "peripheral_lower",
    ...     "covid_laterality": "bilateral", "covid_extent_percent": 21.4,
    ...     "covid_severity_score": 11}))  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: Non-contrast CT of the chest, 2.5 mm slices, lung kernel. Bilateral peripheral,
    subpleural and lower-lobe predominant ground-glass opacities involving about 21 % of the
    lung volume (CT severity score 11/25). No pulmonary nodule. No pleural effusion. Heart
    size normal; no pericardial effusion.
    IMPRESSION: Findings typical of COVID-19 pneumonia, moderate extent (CT severity score
    11/25).
    """
    a = attributes
    f = [f"Non-contrast CT of the chest, {float(a.get('slice_thickness_mm', 2.5)):g} mm slices, "
         f"{a.get('kernel', 'standard')} kernel."]
    imp = []
    if classes.get("covid"):
        side = str(a.get("covid_laterality", "bilateral"))
        side = "Bilateral" if side == "bilateral" else f"{side.capitalize()}-sided"
        where = _COVID_WHERE.get(str(a.get("covid_distribution")), "")
        what = _COVID_WORDS.get(str(a.get("covid_pattern")), "opacities")
        score = int(a.get("covid_severity_score", 0))
        f.append(f"{side} {where} {what} involving about "
                 f"{float(a.get('covid_extent_percent', 0)):.0f} % of the lung volume "
                 f"(CT severity score {score}/25).")
        extent = "mild" if score <= 7 else "moderate" if score <= 17 else "severe"
        typical = a.get("covid_distribution") in ("peripheral_lower", "peripheral", "lower")
        imp.append(f"Findings {'typical of' if typical else 'compatible with'} COVID-19 "
                   f"pneumonia, {extent} extent (CT severity score {score}/25).")
    if classes.get("emphysema"):
        kind = str(a.get("emphysema_type", "centrilobular"))
        zone = "upper-zone predominant" if kind == "centrilobular" else "lower-zone predominant"
        pct = float(a.get("emphysema_extent_percent", 0))
        f.append(f"{kind.capitalize()} emphysema, {zone}, about {pct:.0f} % of the lung volume.")
        imp.append(f"{'Mild' if pct < 10 else 'Moderate' if pct < 25 else 'Severe'} "
                   f"{kind} emphysema.")
    n = int(a.get("nodule_count", 0))
    if classes.get("nodule") and n:
        kind = str(a.get("nodule_1_type", "solid")).replace("_", "-")
        d = float(a.get("nodule_1_diameter_mm", 0))
        lobe = _LOBE_WORDS.get(str(a.get("nodule_1_lobe")), "lung")
        rads = a.get("lung_rads", a.get("nodule_1_lung_rads", "2"))
        if n == 1:
            f.append(f"{d:.0f} mm {kind} nodule in the {lobe} (Lung-RADS {rads}).")
        else:
            f.append(f"{n} {kind} nodules, the largest {d:.0f} mm in the {lobe}.")
        imp.append(f"{'Pulmonary nodule' if n == 1 else 'Pulmonary nodules'}: Lung-RADS {rads}.")
    else:
        f.append("No pulmonary nodule.")
    if classes.get("effusion"):
        side = str(a.get("effusion_side", "right"))
        size = _effusion_size(float(a.get("effusion_volume_ml", 0)))
        words = f"{size.capitalize()} bilateral pleural effusions" if side == "bilateral" else \
            f"{size.capitalize()} {side} pleural effusion"
        f.append(f"{words} (about {float(a.get('effusion_volume_ml', 0)):.0f} mL) with "
                 "adjacent compressive atelectasis.")
        imp.append(f"{words}.")
    else:
        f.append("No pleural effusion.")
    f.append("Heart size normal; no pericardial effusion.")
    impression = " ".join(imp) if imp else "No acute cardiopulmonary abnormality."
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + impression


_LOBE = {"frontal": "frontal lobe", "temporal": "temporal lobe", "parietal": "parietal lobe",
         "occipital": "occipital lobe"}


def brain_mri_report(classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for a brain MRI from ``classes`` and ``attributes``.

    >>> print(brain_mri_report({"glioma": True}, {"field_strength_t": 3.0,
    ...     "lesion_1_location": "left frontal", "enhancing_tumor_volume_ml": 12.4,
    ...     "necrotic_core_volume_ml": 5.1, "edema_volume_ml": 40.2,
    ...     "midline_shift_mm": 4.0}))  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: MRI of the brain at 3 T. Intra-axial mass in the left frontal lobe with
    irregular rim enhancement (12 mL) around central necrosis (5 mL) and surrounding
    T2/FLAIR hyperintense vasogenic oedema (40 mL), with 4 mm midline shift.
    IMPRESSION: Rim-enhancing necrotic intra-axial mass, most in keeping with a high-grade
    glioma.
    """
    a = attributes
    f = [f"MRI of the brain at {float(a.get('field_strength_t', 3.0)):g} T."]
    imp = []
    where = _where(str(a.get("lesion_1_location", "")))
    if classes.get("glioma"):
        et, ncr = float(a.get("enhancing_tumor_volume_ml", 0)), \
            float(a.get("necrotic_core_volume_ml", 0))
        ed = float(a.get("edema_volume_ml", 0))
        shift = float(a.get("midline_shift_mm", 0))
        if et > 0:
            f.append(f"Intra-axial mass in the {where} with irregular rim enhancement "
                     f"({et:.0f} mL) around central necrosis ({ncr:.0f} mL) and surrounding "
                     f"T2/FLAIR hyperintense vasogenic oedema ({ed:.0f} mL)"
                     + (f", with {shift:.0f} mm midline shift." if shift >= 1 else "."))
            imp.append("Rim-enhancing necrotic intra-axial mass, most in keeping with a "
                       "high-grade glioma.")
        else:
            f.append(f"Non-enhancing T2/FLAIR hyperintense infiltrative mass in the {where} "
                     f"({ed:.0f} mL).")
            imp.append("Non-enhancing infiltrative mass, suggestive of a low-grade glioma.")
    if classes.get("metastases"):
        n = int(a.get("lesion_count", 0))
        f.append(f"{n} enhancing lesion{'s' if n != 1 else ''} at the grey-white matter "
                 "junction with disproportionate surrounding oedema.")
        imp.append("Multiple enhancing lesions, in keeping with metastases." if n > 1 else
                   "Solitary enhancing lesion; metastasis is the main differential.")
    if classes.get("ms"):
        n = int(a.get("lesion_count", 0))
        f.append(f"{n} ovoid T2/FLAIR hyperintense white-matter lesion{'s' if n != 1 else ''}, "
                 "periventricular and juxtacortical, some perpendicular to the ventricles.")
        imp.append("White-matter lesions in a distribution typical of demyelination "
                   "(multiple sclerosis).")
    if classes.get("stroke"):
        stage = str(a.get("lesion_1_stage", a.get("stroke_stage", "acute")))
        territory = str(a.get("lesion_1_territory", a.get("stroke_territory", "MCA")))
        if stage == "chronic":
            f.append(f"Wedge-shaped area of encephalomalacia in the {where} ({territory} "
                     "territory) with gliosis.")
            imp.append(f"Chronic {territory} territory infarct.")
        else:
            f.append(f"Wedge-shaped T2/FLAIR hyperintensity involving cortex and white matter "
                     f"in the {where} ({territory} territory).")
            imp.append(f"Acute {territory} territory infarct.")
    if not imp:
        f.append("No intracranial mass, haemorrhage or infarct. Ventricles and sulci "
                 "appropriate for age.")
        imp.append("Normal MRI of the brain.")
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + " ".join(imp)


def _where(location: str) -> str:
    side, _, lobe = location.partition(" ")
    return f"{side} {_LOBE.get(lobe, lobe)}".strip() if lobe else (location or "brain")
