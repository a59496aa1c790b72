"""Shadow models: a candidate from the registry scores every new post beside the model in
use, without acting, and is measured on what reviewers decide meanwhile.

`start` names the candidate (at most one runs); the scoring step (tagwatch.pipeline.score_new)
then scores each batch of new posts with it too and stores the result with `write_scores` in
`shadow_scores`, a table nothing else reads: the flagged list, the cases and the queue read
`scores` only, so a shadow never changes what analysts see. `compare` measures both models on
the posts reviewers confirmed (positive) or dismissed (negative) since the shadow started, and
lists the posts the candidate would add to the flagged list or drop from it. `stop` ends it
(promoting the candidate ends it too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from classifiers.corpora import sha256_of
from classifiers.store import MODEL_FILE, current_version
from warehouse.db import WarehouseError, transaction
from warehouse.queries import dict_rows

START = "start one with `tagwatch models shadow VERSION`"
STOP = "`tagwatch models shadow --stop`"
# Reviewer moves that settle (or unsettle, when a decision is undone or reopened) what a post is.
_DECISIONS = ("CONFIRMED", "DISMISSED", "DETECTED", "IN_REVIEW")


class ShadowError(WarehouseError):
    """A shadow command that cannot be done; the message says what to do instead."""


def running(con) -> dict | None:
    """The shadow that runs now (model_version, baseline_version, started_at, ...), or None."""
    rows = dict_rows(con.execute(
        "SELECT shadow_id, model_version, baseline_version, started_at, started_by "
        "FROM shadow_runs WHERE stopped_at IS NULL ORDER BY shadow_id DESC LIMIT 1"))
    return rows[0] if rows else None


def start(con, version: str, models_dir: Path, by: str, now: datetime | None = None) -> dict:
    """Make `version` (a model in the registry, not the one in use) the shadow model."""
    row = con.execute("SELECT file_sha256 FROM models WHERE version = ?", [version]).fetchone()
    if row is None:
        recent = [r[0] for r in con.execute(
            "SELECT version FROM models ORDER BY trained_at DESC, version DESC LIMIT 3").fetchall()]
        raise ShadowError(f"no model {version!r} in the registry" + (
            f"; recent: {', '.join(recent)} (all: `tagwatch models list`)" if recent
            else "; train one with `tagwatch train`"))
    in_use = current_version(models_dir)
    if version == in_use:
        raise ShadowError(f"{version} is the model in use already: shadow another version "
                          "(`tagwatch models list`)")
    active = running(con)
    if active is not None:
        raise ShadowError(f"the shadow model {active['model_version']} runs since "
                          f"{active['started_at']:%Y-%m-%d %H:%M}: stop it first with {STOP}")
    path = Path(models_dir) / version / MODEL_FILE
    if not path.is_file():
        raise ShadowError(f"model {version}: file {path} is missing; cannot shadow it")
    if sha256_of(path) != row[0]:
        raise ShadowError(f"model {version}: {path} is not the file the registry recorded "
                          "(checksum differs); refusing to shadow it")
    con.execute("INSERT INTO shadow_runs (model_version, baseline_version, started_at, started_by) "
                "VALUES (?, ?, ?, ?)", [version, in_use, now or datetime.now(timezone.utc), by])
    return running(con)


def stop(con, by: str, reason: str = "stopped by hand", version: str | None = None) -> dict | None:
    """End the running shadow (only if it is `version`, when given); returns it, or None."""
    active = running(con)
    if active is None or (version is not None and active["model_version"] != version):
        return None
    con.execute("UPDATE shadow_runs SET stopped_at = ?, stopped_by = ?, stop_reason = ? "
                "WHERE shadow_id = ?", [datetime.now(timezone.utc), by, reason, active["shadow_id"]])
    return active


def not_scored(con, version: str, keys: list[tuple[str, str]]) -> list[int]:
    """Positions in `keys` ((platform, post_id)) of the posts `version` has not shadow-scored."""
    if not keys:
        return []
    batch = pa.table({"i": list(range(len(keys))), "platform": [k[0] for k in keys],  # noqa: F841
                      "post_id": [k[1] for k in keys]})
    return sorted(r[0] for r in con.execute(
        "SELECT i FROM batch b ANTI JOIN (SELECT platform, post_id FROM shadow_scores "
        "WHERE model_version = ?) s USING (platform, post_id)", [version]).fetchall())


def write_scores(con, rows: list[tuple], version: str, threshold: float) -> int:
    """Store (platform, post_id, score, staff_target) rows of the shadow model `version`."""
    if not rows:
        return 0
    scored = pa.table({  # noqa: F841 (read by DuckDB below)
        "platform": [r[0] for r in rows], "post_id": [r[1] for r in rows],
        "score": pa.array([_probability(r[2]) for r in rows], pa.float64()),
        "staff_target": pa.array([_probability(r[3]) for r in rows], pa.float64()),
    })
    with transaction(con):
        con.execute("INSERT INTO shadow_scores (platform, post_id, model_version, score, label, "
                    "staff_target, scored_at) SELECT platform, post_id, ?, score, score >= ?, "
                    "staff_target, now() FROM scored ON CONFLICT DO NOTHING", [version, threshold])
    return len(rows)


def _probability(value) -> float | None:
    return None if value is None or value != value else float(value)


# --- compare ------------------------------------------------------------------------------

@dataclass
class Measured:
    """One model on the decided posts: flagged-and-confirmed (tp), flagged-and-dismissed (fp),
    confirmed-not-flagged (fn)."""

    version: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Comparison:
    shadow: dict
    current: str
    decided: int = 0          # decided posts both models scored
    left_out: int = 0         # decided posts one of them did not score (seen before the shadow)
    models: list[Measured] = field(default_factory=list)   # the model in use, the candidate
    added: list[dict] = field(default_factory=list)        # the candidate flags, the current not
    dropped: list[dict] = field(default_factory=list)      # the current flags, the candidate not
    added_total: int = 0
    dropped_total: int = 0


def decisions(con, since: datetime) -> dict[tuple[str, str], tuple[int, bool]]:
    """(platform, post_id) -> (case_id, confirmed?) of the posts reviewers decided since
    `since`: each post's latest reviewer move, if it confirmed or dismissed it (a decision
    undone or reopened since is no decision)."""
    rows = con.execute(
        f"""
        SELECT c.platform, c.post_id, arg_max(c.case_id, e.event_id), arg_max(e.to_state, e.event_id)
        FROM case_events e JOIN cases c USING (case_id)
        WHERE e.occurred_at >= ? AND e.from_state IS NOT NULL AND NOT e.automated
          AND e.to_state IN ({", ".join("?" * len(_DECISIONS))})
        GROUP BY c.platform, c.post_id
        """, [since, *_DECISIONS]).fetchall()
    return {(p, i): (case, state == "CONFIRMED") for p, i, case, state in rows
            if state in ("CONFIRMED", "DISMISSED")}


def compare(con, models_dir: Path, limit: int = 20) -> Comparison:
    """Both models on the posts decided since the running shadow started, and the posts the
    candidate would add to the flagged list or drop from it (at most `limit` of each)."""
    shadow = running(con)
    if shadow is None:
        raise ShadowError(f"no shadow model is running: {START}")
    current = current_version(models_dir)
    if current is None:
        raise ShadowError(f"no model in use in {models_dir}: train one with `tagwatch train`")
    decided = decisions(con, shadow["started_at"])
    if not decided:
        raise ShadowError(f"no reviewer decisions since the shadow of {shadow['model_version']} "
                          f"started ({shadow['started_at']:%Y-%m-%d %H:%M}): confirm or dismiss "
                          "cases, then compare again")
    result = Comparison(shadow, current)
    result.models = [Measured(current), Measured(shadow["model_version"])]
    labels = _labels(con, current, shadow["model_version"], list(decided))
    for key, (_, positive) in decided.items():
        if key not in labels:
            result.left_out += 1
            continue
        result.decided += 1
        for measured, flagged in zip(result.models, labels[key]):
            measured.tp += flagged and positive
            measured.fp += flagged and not positive
            measured.fn += positive and not flagged
    for added in (True, False):
        total, rows = _differences(con, current, shadow["model_version"], added, limit)
        for r in rows:
            case, positive = decided.get((r["platform"], r["post_id"]), (r["case_id"], None))
            r["case_id"] = case
            r["decision"] = {True: "confirmed", False: "dismissed"}.get(positive, "undecided")
        if added:
            result.added_total, result.added = total, rows
        else:
            result.dropped_total, result.dropped = total, rows
    return result


def _labels(con, current: str, candidate: str, keys: list) -> dict[tuple, tuple[bool, bool]]:
    """(flagged by the current model, by the candidate) of those posts both scored."""
    wanted = pa.table({"platform": [k[0] for k in keys], "post_id": [k[1] for k in keys]})  # noqa: F841
    rows = con.execute(
        """
        SELECT w.platform, w.post_id, coalesce(s.label, FALSE), coalesce(h.label, FALSE)
        FROM wanted w
        JOIN scores s ON s.platform = w.platform AND s.post_id = w.post_id AND s.model_version = ?
        JOIN shadow_scores h ON h.platform = w.platform AND h.post_id = w.post_id
                            AND h.model_version = ?
        """, [current, candidate]).fetchall()
    return {(p, i): (bool(a), bool(b)) for p, i, a, b in rows}


def _differences(con, current: str, candidate: str, added: bool, limit: int) -> tuple[int, list[dict]]:
    """How many posts both scored that only the candidate flags (added) or only the current
    model flags (not added), and the first `limit` of them, highest score first."""
    which = ("coalesce(h.label, FALSE) AND NOT coalesce(s.label, FALSE)" if added else
             "coalesce(s.label, FALSE) AND NOT coalesce(h.label, FALSE)")
    order = "h.score" if added else "s.score"
    joined = ("FROM shadow_scores h JOIN scores s ON s.platform = h.platform "
              "AND s.post_id = h.post_id AND s.model_version = ?")
    where = f"WHERE h.model_version = ? AND {which}"
    total = con.execute(f"SELECT count(*) {joined} {where}", [current, candidate]).fetchone()[0]
    rows = dict_rows(con.execute(
        f"""
        SELECT h.platform, h.post_id, s.score AS current_score, h.score AS candidate_score,
               (SELECT min(c.case_id) FROM cases c WHERE c.platform = h.platform
                AND c.post_id = h.post_id) AS case_id, p.text
        {joined} LEFT JOIN posts p ON p.platform = h.platform AND p.post_id = h.post_id
        {where}
        ORDER BY {order} DESC NULLS LAST, h.platform, h.post_id LIMIT ?
        """, [current, candidate, int(limit)]))
    return total, rows
