"""Radiology-style report text written from a sample's labels (small, wording only)."""

from __future__ import annotations

__all__ = ["chest_xray_report"]

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
