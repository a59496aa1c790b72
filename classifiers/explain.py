"""Explanations as people read them. Kept free of scikit-learn, so showing a score is cheap."""
from __future__ import annotations


def explanation_text(explanation: list[dict] | None) -> str:
    """'paedo +0.41, nonce +0.12; aimed at school staff: mr pemberton' for tables and CSVs."""
    if not explanation:
        return ""
    terms = [f"{e['term']} +{e['weight']:.2f}" for e in explanation if "weight" in e]
    staff = [e["term"] for e in explanation if e.get("signal")]
    parts = [", ".join(terms)] if terms else []
    if staff:
        parts.append("aimed at school staff: " + ", ".join(staff))
    return "; ".join(parts)
