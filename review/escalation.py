"""The escalation pack for the Professional Online Safety Helpline / Report Harmful Content:
the frozen evidence with its hash, the dates, every report made, the platform's answers
verbatim and every re-check, as a JSON file (exact) and a PDF (for people).

Who is targeted appears as a role only, never a name.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from pathlib import Path

from review import cases as cs
from review import dsa

# A Unicode font for the PDF (post text is rarely plain Latin-1); the first one found is used.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


def build(con, case_id) -> dict:
    info = cs.show(con, case_id)
    ev = info["evidence"]
    if ev is None:
        raise cs.CaseError(f"case {info['case_id']} has no frozen evidence: confirm it first")
    return _plain({
        "pack": "tagwatch escalation pack",
        "generated_at": datetime.now(timezone.utc),
        "case": {"case_id": info["case_id"], "state": info["state"], "state_since": info["state_since"],
                 "platform": info["platform"], "opened_at": info["opened_at"], "origin": info["origin"]},
        "evidence": {
            "url": ev["url"], "post_id": ev["post_id"], "text": ev["text"], "hashtags": ev["hashtags"],
            "counts": {k: ev[k] for k in ("reply_count", "share_count", "like_count", "view_count")},
            "posted_at": ev["created_at"], "first_seen_at": ev["first_seen_at"],
            "last_seen_at": ev["last_seen_at"], "category": ev["category"],
            "target_role": ev["target_role"], "severity": ev["severity"],
            "model_version": ev["model_version"], "score": ev["score"],
            "frozen_at": ev["frozen_at"], "captured_content": ev["content_json"],
            "content_sha256": ev["content_sha256"],
            "hash_note": "SHA-256 of captured_content encoded as UTF-8",
        },
        "reports": info["reports"],          # every attempt, oldest first
        "platform_answers": info["answers"],  # verbatim
        "rechecks": info["rechecks"],
        "events": info["events"],
        "incident": _incident(info["incident"]),
    })


def _incident(incident: dict | None) -> dict | None:
    """The other cases of the same content (other platforms, re-uploads): the helpline can act
    on every copy. Each with its address, state and how it was matched."""
    if incident is None:
        return None
    keys = ("case_id", "platform", "post_id", "url", "state", "reason", "similarity", "matched_case",
            "created_at", "first_seen_at", "content_sha256")
    return {"incident_id": incident["incident_id"], "cases": incident["cases"],
            "platforms": incident["platforms"], "this_case_joined_by": incident["reason"],
            "siblings": [{k: s[k] for k in keys} for s in incident["siblings"]]}


def write_pack(con, case_id, out_dir) -> list[Path]:
    """Write case-<id>-escalation.json and .pdf into `out_dir`; returns both paths."""
    pack = build(con, case_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"case-{pack['case']['case_id']}-escalation"
    body = json.dumps(pack, indent=1, ensure_ascii=False)
    json_path = stem.with_suffix(".json")
    json_path.write_text(body, encoding="utf-8")
    pdf_path = stem.with_suffix(".pdf")
    _pdf(pack, hashlib.sha256(body.encode("utf-8")).hexdigest(), pdf_path)
    return [json_path, pdf_path]


def _pdf(pack: dict, json_sha256: str, path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    font = next((f for f in FONT_CANDIDATES if Path(f).exists()), None)
    if font:
        pdf.add_font("body", fname=font)
        family, fix = "body", str
    else:  # core fonts hold Latin-1 only; the JSON file keeps the exact text
        family = "helvetica"

        def fix(text):
            return str(text).encode("latin-1", "backslashreplace").decode("latin-1")
    pdf.add_page()
    pdf.set_auto_page_break(True, margin=15)

    def heading(text):
        pdf.set_font(family, size=13)
        pdf.ln(3)
        pdf.multi_cell(0, 7, fix(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=9.5)

    def line(text):
        pdf.multi_cell(0, 5, fix(text), new_x="LMARGIN", new_y="NEXT")

    case, ev = pack["case"], pack["evidence"]
    heading(f"Escalation pack: case {case['case_id']} ({case['platform']}), {case['state']}")
    line(f"Generated {pack['generated_at']}. The JSON file beside this PDF is the exact record; "
         f"its SHA-256 is {json_sha256}.")
    heading("Evidence (frozen at confirmation)")
    for label, value in (("URL", ev["url"]), ("Posted", ev["posted_at"]), ("First seen", ev["first_seen_at"]),
                         ("Last seen", ev["last_seen_at"]), ("Hashtags", " ".join(f"#{t}" for t in ev["hashtags"] or [])),
                         ("Counts", ", ".join(f"{k.split('_')[0]} {v}" for k, v in ev["counts"].items() if v is not None)),
                         ("Category", ev["category"]), ("Who is targeted (role)", ev["target_role"] or "not recorded"),
                         ("Severity", ev["severity"] or "not recorded"),
                         ("Classifier", f"model {ev['model_version']}, score {ev['score']}"),
                         ("Frozen at", ev["frozen_at"]), ("Content SHA-256", ev["content_sha256"])):
        line(f"{label}: {value}")
    line("Text as captured:")
    line(ev["text"] or "")
    heading("Reports made to the platform")
    for r in pack["reports"] or [{"channel": "none", "reference": "-", "sent_at": "-"}]:
        line(f"{r['sent_at']}: {r['channel']}, reference {r['reference']}")
    heading("The platform's answers (verbatim)")
    for a in pack["platform_answers"] or [{"answered_at": "-", "outcome": "no answer recorded", "text": ""}]:
        line(f"{a['answered_at']}: {a['outcome']}: {a['text']}")
        if dsa.describe(a):
            line(f"    DSA statement of reasons: {dsa.describe(a)}")
    heading("Re-checks of whether the post is online")
    for r in pack["rechecks"] or [{"checked_at": "-", "outcome": "none yet", "http_status": None}]:
        line(f"{r['checked_at']}: {r['outcome']} (HTTP {r['http_status'] or '-'})")
    incident = pack["incident"]
    if incident and incident["siblings"]:
        heading(f"The same content elsewhere: incident {incident['incident_id']} "
                f"({incident['cases']} cases on {incident['platforms']} platforms)")
        for sib in incident["siblings"]:
            line(f"case {sib['case_id']} ({sib['platform']}, {sib['state']}, matched by {sib['reason']}"
                 f"{'' if sib['similarity'] is None else ' ' + format(sib['similarity'], '.2f')}): "
                 f"{sib['url'] or sib['post_id']}")
    heading("History")
    for e in pack["events"]:
        line(f"{e['occurred_at']}: {e['from_state'] or '-'} -> {e['to_state']} "
             f"({'automated' if e['automated'] else e['actor']}){': ' + e['note'] if e['note'] else ''}")
    pdf.output(str(path))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):  # a platform's decision date (DSA application_date)
        return value.isoformat()
    return value
