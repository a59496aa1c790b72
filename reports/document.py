"""The report as a document: sections of sentences, tables and charts, built from the
figures of two periods (this one and the one before). HTML, PDF and CSV are all
rendered from this one structure, so they always say the same thing."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reports import charts
from reports.redact import excerpt, free_text
from warehouse.report_metrics import AGE_BUCKETS, SPANS


@dataclass
class Table:
    name: str                  # the CSV file is <name>.csv
    columns: list[str]
    rows: list[list]           # plain values: str, int, float (already rounded), None


@dataclass
class Chart:
    name: str                  # the PNG is charts/<name>.png
    title: str
    png: bytes


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    chart: Chart | None = None


@dataclass
class Document:
    title: str
    subtitle: str
    start: datetime
    end: datetime
    empty: bool
    sections: list[Section]
    headline: list[tuple[str, str]] = field(default_factory=list)  # the key figures, shown first

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def charts(self) -> list[Chart]:
        return [s.chart for s in self.sections if s.chart]


def day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def when(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def fmt(value) -> str:
    """How a cell reads in HTML and PDF (the CSV keeps the plain value)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def has_activity(f: dict) -> bool:
    return bool(f["totals"]["posts"] or f["reports"]["reports"] or any(d["cases"] for d in f["durations"])
                or f["mismatch"]["removed_claims"] or f["mismatch"]["no_violation_answers"]
                or any(b["posts"] for b in f["still_online"]) or f["resurfacing"]["removed_posts_back"]
                or f["schools"]["submissions"] or f["schools"]["verified_removed"])


def build(cur: dict, prev: dict, *, excerpts_of: dict[int, str] | None = None,
          generated_at: datetime) -> Document:
    """`cur` and `prev`: warehouse.report_metrics.figures of this period and the one before;
    `excerpts_of`: case id -> post text, only when excerpts were asked for."""
    start, end = cur["start"], cur["end"]
    last_day = end - timedelta(microseconds=1)
    days = (end - start) / timedelta(days=1)
    title = f"tagwatch report: {day(start)} to {day(last_day)}"
    subtitle = (f"{days:g} days ending {when(end)}, compared with the {days:g} days before "
                f"({day(prev['start'])} to {day(start - timedelta(microseconds=1))}). "
                f"Generated {when(generated_at)}. No author handles, names or links to posts: "
                "safe to forward.")
    if not has_activity(cur):
        note = Section("Nothing to report", [
            f"No posts were first seen between {when(start)} and {when(end)}, and no reports, "
            "platform answers or re-checks were recorded in that time: there is nothing to report "
            "for this period."])
        return Document(title, subtitle, start, end, True, [note, _summary(cur, prev)])
    sections = [
        _summary(cur, prev),
        _flagged(cur),
        _outcomes(cur, prev),
        _platforms(cur),
        _durations(cur, prev),
        _mismatch(cur, excerpts_of),
        _still_online(cur, prev),
        _resurfacing(cur, prev),
        _models(cur, prev),
        _schools(cur, prev),
        _definitions(),
    ]
    return Document(title, subtitle, start, end, False, sections, headline(cur))


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.0f} %"


def headline(f: dict) -> list[tuple[str, str]]:
    """The key figures of the period, shown before everything else."""
    t = f["totals"]
    return [("posts flagged", str(t["flagged"])), ("confirmed as abuse", str(t["confirmed"])),
            ("reports sent to platforms", str(f["reports"]["reports"])),
            ("removed within 48 h", str(_at(f, "48 h", "removed"))),
            ("takedown rate", percent(takedown_rate(f))),
            ("mismatch rate", percent(f["mismatch"]["rate"])),
            ("confirmed posts still online", str(sum(b["posts"] for b in f["still_online"])))]


def _change(now, before):
    if now is None or before is None:
        return None
    diff = now - before
    return round(diff, 1) if isinstance(diff, float) else diff


def _span(f: dict, span: str, key: str = "median_hours"):
    return hours(next(d[key] for d in f["durations"] if d["span"] == span))


def _at(f: dict, horizon: str, key: str) -> int:
    return next(o[key] for o in f["outcomes"] if o["horizon"] == horizon)


def summary_rows(f: dict) -> list[tuple[str, object]]:
    t = f["totals"]
    reviewed = sum(m["reviewed"] for m in f["models"]["by_version"])
    overturned = sum(m["overturned"] for m in f["models"]["by_version"])
    return [
        ("posts first seen", t["posts"]),
        ("posts flagged by the classifier", t["flagged"]),
        ("posts confirmed by a reviewer", t["confirmed"]),
        ("incidents flagged (same content counted once)", f["incidents"]["flagged"]),
        ("incidents confirmed", f["incidents"]["confirmed"]),
        ("precision of flags (%)", pct(t["precision"])),
        ("reports sent to platforms", f["reports"]["reports"]),
        ("cases reported for the first time", f["reports"]["first_reports"]),
        ("removed within 48 h (cases)", _at(f, "48 h", "removed")),
        ('"no violation" within 48 h (cases)', _at(f, "48 h", "no_violation")),
        ("no answer at 48 h (cases)", _at(f, "48 h", "no_answer")),
        ("no answer at 7 d (cases)", _at(f, "7 d", "no_answer")),
        ("takedown rate (%)", pct(takedown_rate(f))),
        ("median hours first seen -> reported", _span(f, SPANS[0])),
        ("median hours reported -> platform answer", _span(f, SPANS[1])),
        ("median hours reported -> verified offline", _span(f, SPANS[2])),
        ('"removed" claims found still online', f["mismatch"]["still_online"]),
        ("mismatch rate (%)", pct(f["mismatch"]["rate"])),
        ("confirmed posts still online at the end", sum(b["posts"] for b in f["still_online"])),
        ("posts under banned tags (any spelling)", sum(r["posts"] for r in f["resurfacing"]["tags"])),
        ("reviewer overturn rate of flags (%)", pct(overturned / reviewed) if reviewed else None),
    ]


def _summary(cur: dict, prev: dict) -> Section:
    rows = [[name, now, before, _change(now, before)]
            for (name, now), (_, before) in zip(summary_rows(cur), summary_rows(prev))]
    return Section("This period at a glance", [], [Table(
        "summary", ["measure", "this period", "previous period", "change"], rows)])


def _flagged(f: dict) -> Section:
    cols = ["posts", "flagged", "confirmed", "flags reviewed", "flags confirmed", "precision (%)"]

    def row(r):
        return [r["posts"], r["flagged"], r["confirmed"], r["flags_reviewed"], r["flags_confirmed"],
                pct(r["precision"])]
    by_platform = Table("flagged_by_platform", ["platform", *cols],
                        [[r["platform"], *row(r)] for r in f["by_platform"]])
    by_tag = Table("flagged_by_tag", ["watched tag", *cols], [[r["tag"], *row(r)] for r in f["by_tag"]])
    t = f["totals"]
    lines = [f"{count_of(t['posts'], 'post', were=True)} first seen; the classifier flagged "
             f"{t['flagged']} and reviewers "
             f"confirmed {t['confirmed']} as abuse. Of the {t['flags_reviewed']} flags reviewed so far, "
             f"{t['flags_confirmed']} were confirmed (precision {fmt(pct(t['precision']))} %).",
             f"Counted as incidents (the same content, on any platform or re-uploaded, once): "
             f"{f['incidents']['flagged']} flagged, {f['incidents']['confirmed']} confirmed; "
             f"{f['incidents']['cross_platform']} of the flagged ones on more than one platform.",
             "Tags are grouped by the watched tag they match, spelling variants included; a post "
             "under two watched tags counts under each."]
    chart = Chart("flagged_by_tag", "Flagged and confirmed posts by watched tag", charts.grouped_bars(
        "Flagged and confirmed posts by watched tag", [r["tag"] for r in f["by_tag"]],
        {"flagged": [r["flagged"] for r in f["by_tag"]],
         "confirmed": [r["confirmed"] for r in f["by_tag"]]}, "posts", horizontal=True))
    return Section("Flagged and confirmed posts", lines, [by_platform, by_tag], chart)


def count_of(n: int, noun: str, were: bool = False) -> str:
    """'1 case', '2 cases'; with were=True also the verb: '1 case was', '2 cases were'."""
    text = f"{n} {noun}" + ("" if n == 1 else "s")
    return text + ((" was" if n == 1 else " were") if were else "")


def _outcomes(cur: dict, prev: dict) -> Section:
    keys = ("removed", "no_violation", "other_answer", "no_answer", "not_yet_due")
    labels = ("removed", "no violation", "other answer", "no answer", "not yet due")
    rows = [[o["horizon"], *(o[k] for k in keys), o["cases"]] for o in cur["outcomes"]]
    r = cur["reports"]
    lines = [f"{count_of(r['reports'], 'report', were=True)} sent about {count_of(r['cases'], 'case')}; "
             f"{r['first_reports']} of "
             "those cases were reported for the first time in this period "
             f"(previous period: {prev['reports']['first_reports']}). What the platform had done "
             "48 hours and 7 days after the first report:"]
    chart = Chart("platform_outcomes", "Platform outcomes after the first report", charts.stacked_bars(
        "Platform outcomes after the first report", [f"after {o['horizon']}" for o in cur["outcomes"]],
        {label: [o[k] for o in cur["outcomes"]] for k, label in zip(keys, labels)}, "cases"))
    return Section("Reports and what the platforms did", lines,
                   [Table("platform_outcomes", ["after", *labels, "cases"], rows)], chart)


def takedown_rate(f: dict) -> float | None:
    """Cases first reported in the period that the platform took down or restricted by the
    end, over all of them (every platform)."""
    reported = sum(r["reported"] for r in f["by_platform_decisions"])
    return sum(r["taken_down"] for r in f["by_platform_decisions"]) / reported if reported else None


def _platforms(f: dict) -> Section:
    rows = [[r["platform"], r["reported"], r["removed_48h"], pct(r["takedown_rate"]),
             hours(r["median_hours_offline"]), pct(r["mismatch_rate"]), r["ground_illegal"],
             r["ground_terms"], r["automated_decisions"]] for r in f["by_platform_decisions"]]
    return Section("Each platform's decisions", [
        "Cases first reported in this period: removed within 48 h, and the takedown rate (acted "
        "on by the end of the period, counted as the UK helplines count theirs). The last three "
        "columns count answers that gave a DSA statement-of-reasons ground or an automated decision."],
        [Table("platform_decisions", ["platform", "cases reported", "removed within 48 h",
                                      "takedown rate (%)", "median hours to verified offline",
                                      "mismatch rate (%)", "illegal content (DSA ground)",
                                      "terms of service (DSA ground)", "automated decisions"], rows)])


def _durations(cur: dict, prev: dict) -> Section:
    rows = []
    for d in cur["durations"]:
        rows.append([d["span"], d["cases"], hours(d["median_hours"]), hours(d["p90_hours"]),
                     _span(prev, d["span"])])
    chart = Chart("response_times", "How long things took", charts.grouped_bars(
        "How long things took (median and 90th percentile)", [d["span"] for d in cur["durations"]],
        {"median": [hours(d["median_hours"]) or 0 for d in cur["durations"]],
         "90th percentile": [hours(d["p90_hours"]) or 0 for d in cur["durations"]]}, "hours"))
    return Section("How long it took", [
        "Each span counts in the period in which it ended; times are in hours."],
        [Table("response_times", ["span", "cases", "median hours", "p90 hours",
                                  "previous median hours"], rows)], chart)


def _mismatch(f: dict, excerpts_of: dict[int, str] | None) -> Section:
    m = f["mismatch"]
    lines = [f'Platforms said "removed" for {count_of(m["removed_claims"], "case")} in this period; '
             're-checks found '
             f'{m["still_online"]} of them still online afterwards (mismatch rate '
             f'{fmt(pct(m["rate"]))} %).',
             f'Platforms answered "no violation" for {count_of(m["no_violation_answers"], "case")}; '
             f'{m["later_offline"]} of those posts later went offline (Mastodon does not say '
             "whether the platform or the author removed them)."]
    cols = ["case", "platform", "report reference", "platform said", "answered", "found"]
    if excerpts_of is not None:
        cols.append("excerpt (redacted)")
    rows = []
    for c in m["cases"]:
        row = [c["case_id"], c["platform"], free_text(c["reference"]),
               "removed" if c["platform_said"] == "removed" else "no violation",
               when(c["answered_at"]),
               ("still online " if c["platform_said"] == "removed" else "offline ") + when(c["found_at"])]
        if excerpts_of is not None:
            row.append(excerpt(excerpts_of.get(c["case_id"])))
        rows.append(row)
    if not rows:
        lines.append("No mismatches in this period.")
    return Section("Mismatches between what platforms said and what is online", lines,
                   [Table("mismatches", cols, rows)])


def _still_online(cur: dict, prev: dict) -> Section:
    before = {b["age"]: b["posts"] for b in prev["still_online"]}
    rows = [[b["age"], b["posts"], before[b["age"]]] for b in cur["still_online"]]
    total = sum(b["posts"] for b in cur["still_online"])
    chart = Chart("still_online_by_age", "Confirmed posts still online", charts.grouped_bars(
        "Confirmed posts still online, by age since first seen", list(AGE_BUCKETS),
        {"at the end of this period": [b["posts"] for b in cur["still_online"]],
         "at the end of the previous period": [before[a] for a in AGE_BUCKETS]}, "posts"))
    return Section("Confirmed posts still online", [
        f"{count_of(total, 'confirmed post', were=True)} not verified offline at {when(cur['end'])}."],
        [Table("still_online_by_age", ["age since first seen", "posts", "previous period"], rows)], chart)


def _resurfacing(cur: dict, prev: dict) -> Section:
    before = {r["tag"]: r["posts"] for r in prev["resurfacing"]["tags"]}
    tags = sorted({r["tag"] for r in cur["resurfacing"]["tags"]} | set(before))
    now = {r["tag"]: r for r in cur["resurfacing"]["tags"]}
    rows = [[t, now.get(t, {}).get("posts", 0), before.get(t, 0), now.get(t, {}).get("flagged", 0),
             now.get(t, {}).get("variant_spellings", 0), now.get(t, {}).get("platforms"),
             now.get(t, {}).get("matched_by")] for t in tags]
    lines = [f"{count_of(len(now), 'banned tag', were=True)} seen again on posts first seen in this "
             "period. Variant spellings are counted, not shown (they can carry names).",
             f"{count_of(cur['resurfacing']['removed_posts_back'], 'post')} verified offline came back "
             "online in this period."]
    chart = None
    if rows:
        chart = Chart("banned_tags", "Banned tags seen again", charts.grouped_bars(
            "Posts under banned tags (any spelling)", tags,
            {"this period": [r[1] for r in rows], "previous period": [r[2] for r in rows]}, "posts",
            horizontal=True))
    return Section("Banned tags that are back", lines, [Table(
        "banned_tags", ["banned tag", "posts", "previous period", "flagged", "variant spellings",
                        "platforms", "matched by"], rows)], chart)


def _models(cur: dict, prev: dict) -> Section:
    m = cur["models"]
    rows = [[r["model_version"], r["flagged"], r["reviewed"], r["overturned"], pct(r["overturn_rate"])]
            for r in m["by_version"]]
    lines = [f"Model in use at the end of the period: {m['current'] or 'none'}.",
             f"{m['labels_from_review']} review decisions became training labels in this period "
             f"(previous period: {prev['models']['labels_from_review']})."]
    return Section("The classifier and its reviewers", lines, [Table(
        "model_overturns", ["model version", "flagged", "reviewed", "overturned by reviewers",
                            "overturn rate (%)"], rows)])


def _schools(cur: dict, prev: dict) -> Section:
    c, b = cur["schools"], prev["schools"]
    rows = [
        ["post addresses received from schools", c["submissions"], b["submissions"]],
        ["schools that reported", c["schools"], b["schools"]],
        ["posts (cases) they concern", c["cases"], b["cases"]],
        ["addresses recorded but not fetched", c["not_fetched"], b["not_fetched"]],
        ["school reports verified removed", c["verified_removed"], b["verified_removed"]],
        ["median hours from a school's report to verified removal", hours(c["median_hours"]),
         hours(b["median_hours"])],
        ["90th percentile of those hours", hours(c["p90_hours"]), hours(b["p90_hours"])],
        ["schools waiting on a platform at the end", c["schools_waiting"], b["schools_waiting"]],
    ]
    lines = [f"{c['submissions']} post addresses came from {c['schools']} schools in this period "
             f"(previous period: {b['submissions']}).",
             f"{c['schools_waiting']} schools were waiting on a platform at {when(cur['end'])}."]
    return Section("Reports from schools", lines,
                   [Table("school_reports", ["measure", "this period", "previous period"], rows)])


def _definitions() -> Section:
    return Section("How these numbers are counted", [
        "Everything is counted as the warehouse stood at the end of the period.",
        "Posts belong to the period in which tagwatch first saw them. Flagged: the classifier's newest "
        "verdict. Confirmed / dismissed: the latest review decision. Precision: confirmed flags / "
        "reviewed flags; overturn rate: dismissed flags / reviewed flags.",
        "Platform outcomes: cases first reported in the period, by the platform's first clear answer "
        "within 48 hours and 7 days of that report; \"not yet due\" when that moment is after the "
        "end of the period.",
        "Takedown rate: of the cases first reported to a platform in the period, the share the "
        "platform had acted on by the end of the period, whenever it answered: a \"removed\" "
        "answer, a restriction recorded from its statement of reasons (removed, disabled, "
        "visibility reduced, age or interaction restricted, labelled, account suspended or "
        "terminated), or a re-check that found the post removed by the platform. This is how the "
        "Professionals Online Safety Helpline and Report Harmful Content count theirs (content "
        "escalated to a platform that was removed or restricted); both escalate only content they "
        "judged harmful, as tagwatch reports only confirmed cases. A \"removed\" claim later "
        "found online still counts here; the mismatch rate shows those.",
        "Median and 90th percentile (linear interpolation) of each span that ended in the period.",
        "Still online: confirmed posts not verified offline, whose latest re-check did not find them gone.",
        "Incidents: posts with the same content counted once: the same text (case and spaces "
        "ignored), the same linked address or video, or near-duplicate text (at least half of their "
        "three-word sequences shared), on any platform.",
        "Schools: post addresses a school contact sent through the intake form in the period; time to "
        "verified removal runs from a school's first report of a post to the re-check that found it "
        "gone; a school waits on a platform while one of its cases is reported and unanswered, "
        "escalated, or found online after the platform said it was removed.",
    ])
