"""The model registry in the warehouse: record every trained model, promote one.

`tagwatch train` registers each new model and promotes it only if it is
better on one fixed yardstick (`yardstick`): the held-out fifth of every
real corpus and of the analysts' labels (which by construction,
`training.held_out_folds`, no model trains on) and the two hand-written staff
sets, every corpus the promoted model knows present. It refuses, saying why,
when the new model was trained on less data than the promoted one (a dataset
missing or smaller: e.g. a plain shell without TAGWATCH_CORPORA_DIR), when a
corpus the promoted model was trained on is missing from the yardstick, or
when it is worse there, judged by PR-AUC per set:

- the watched sets (the analysts' labels, the staff sets): none may lose more
  than MAX_DROP;
- the public corpora: their mean may not lose more than MAX_DROP (one corpus
  may lose more: what its annotators called abuse is not always what the
  analysts call abuse, and the analysts decide);
- the mean over all sets, the labels weighing as they do in training
  (`training.LABEL_SHARE` x the number of corpora), may not be lower than the
  promoted model's less TOLERANCE.

Which model scores is recorded twice, kept in step by `promote`: the
`promoted` flag here (what analysts query) and the CURRENT file in the models
directory (what a scorer loads, without needing the warehouse).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import average_precision_score

from classifiers.corpora import TRAINING_CORPORA, sha256_of
from classifiers.data import CORPUS, LABELS, Dataset, staff_set
from classifiers.errors import ModelIntegrityError
from classifiers.scoring import Scorer
from classifiers.store import MODEL_FILE, current_version, remove_abandoned, set_current
from classifiers.training import LABEL_SHARE, HeldOut, TrainedModel, held_out_of
from collectors.crashpoints import crashpoint
from warehouse.db import WarehouseError, transaction

TOLERANCE = 0.002
# Analysts' labels weigh a lot, so a model that learns a watched source can lose on a public
# corpus: the watched sets may each lose up to MAX_DROP, the public corpora as much in the mean.
# Measured with 2,000 labels of misogyny (Reddit): gh_incivility -0.13, the public mean -0.04,
# the labels' own held-out fifth up (docs/classifier.md, "The learning loop").
MAX_DROP = 0.05
STAFF_SETS = ("staff_select", "staff_eval")


@dataclass
class Decision:
    promote: bool
    reason: str
    new: dict  # dataset -> PR-AUC of the new model
    current: dict  # dataset -> PR-AUC of the promoted model (empty when there is none)


def register(con, trained: TrainedModel, models_dir: Path) -> None:
    """Record a saved model (its file must already be in `models_dir`)."""
    path = Path(models_dir) / trained.version / MODEL_FILE
    con.execute(
        """INSERT INTO models (version, trained_at, datasets, data_sha256, held_out_sha256,
                               metrics, threshold, file_path, file_sha256)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [trained.version, trained.trained_at, json.dumps(trained.datasets),
         trained.data_checksum, trained.held_out.sha256 if trained.held_out else "",
         json.dumps(trained.metrics), trained.threshold, str(path.resolve()), sha256_of(path)])


def promoted_version(con) -> str | None:
    row = con.execute("SELECT version FROM models WHERE promoted").fetchone()
    return row[0] if row else None


def list_models(con) -> list[dict]:
    cur = con.execute(
        """SELECT version, trained_at, promoted, promoted_at, threshold, metrics, datasets, decision
           FROM models ORDER BY trained_at DESC, version DESC""")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    for r in rows:
        r["metrics"] = json.loads(r["metrics"])
        r["datasets"] = json.loads(r["datasets"])
    return rows


def promote(con, version: str, models_dir: Path, decision: str | None = None) -> None:
    """Make `version` the model that scores: the warehouse flag and the CURRENT file.

    Refuses a version the registry does not have, or whose file is missing or
    no longer has the checksum recorded at training.
    """
    row = con.execute("SELECT file_path, file_sha256 FROM models WHERE version = ?",
                      [version]).fetchone()
    if row is None:
        known = [r[0] for r in con.execute(
            "SELECT version FROM models ORDER BY trained_at DESC LIMIT 5").fetchall()]
        raise WarehouseError(f"no model {version!r} in the registry"
                             + (f"; recent: {', '.join(known)}" if known else
                                "; train one with `tagwatch train`"))
    path = Path(models_dir) / version / MODEL_FILE
    if not path.is_file():
        raise WarehouseError(f"model {version}: file {path} is missing; cannot promote it")
    actual = sha256_of(path)
    if actual != row[1]:
        raise ModelIntegrityError(f"model {version}: {path} has sha256 {actual} but the "
                                    f"registry recorded {row[1]}; refusing to promote it")
    with transaction(con):
        con.execute("UPDATE models SET promoted = FALSE WHERE promoted AND version <> ?", [version])
        con.execute("UPDATE models SET promoted = TRUE, promoted_at = now(), "
                    "decision = coalesce(?, decision) WHERE version = ?", [decision, version])
    crashpoint("train.promoted")
    set_current(models_dir, version)


INTERRUPTED = "not promoted: its training was interrupted before the comparison"


def recover(con, models_dir: Path) -> list[str]:
    """Put the registry right after a training killed half-way; what was done, in words.

    A half-written model folder is removed (store.remove_abandoned); a model registered but
    never compared is marked so (INTERRUPTED); CURRENT is pointed at the promoted model when a
    kill came between the two (promote). A promoted model whose file is missing or changed
    is not fixed here: ModelIntegrityError / WarehouseError say so."""
    done = [f"removed {name}, left half-written by a training that was stopped"
            for name in remove_abandoned(models_dir)]
    interrupted = con.execute("UPDATE models SET decision = ? WHERE decision IS NULL AND NOT promoted "
                              "RETURNING version", [INTERRUPTED]).fetchall()
    done += [f"model {v}: registered but never compared (its training was stopped)"
             for (v,) in interrupted]
    version = promoted_version(con)
    if version is not None and current_version(models_dir) != version:
        row = con.execute("SELECT file_sha256 FROM models WHERE version = ?", [version]).fetchone()
        path = Path(models_dir) / version / MODEL_FILE
        if not path.is_file():
            raise WarehouseError(f"the promoted model {version}: file {path} is missing; promote "
                                 "another with `tagwatch models promote VERSION`")
        if sha256_of(path) != row[0]:
            raise ModelIntegrityError(f"the promoted model {version}: {path} no longer has the "
                                      "checksum recorded at training; promote another")
        set_current(models_dir, version)
        done.append(f"CURRENT now names the promoted model {version} (a training was stopped "
                    "between promoting it and switching to it)")
    return done


def record_decision(con, version: str, decision: str) -> None:
    con.execute("UPDATE models SET decision = ? WHERE version = ?", [decision, version])


@dataclass
class Yardstick:
    """The fixed comparison set: fold 0 of every real corpus and of analysts' labels, and
    the whole staff sets; `present` names the datasets it holds."""

    held: HeldOut
    present: set[str]
    labels: frozenset[str] = frozenset()  # the analysts' labels' datasets (watched sources)


def yardstick(datasets: Sequence[Dataset]) -> Yardstick:
    """The comparison set of these datasets (the default data and the warehouse labels)."""
    real = [d for d in datasets if d.kind in (CORPUS, LABELS)]
    held = held_out_of(real)
    texts, labels, names = list(held.texts), [held.labels], [held.dataset]
    for name in STAFF_SETS:
        staff = staff_set(name)
        texts += staff.texts
        labels.append(staff.labels)
        names.append(np.array([name] * len(staff.texts), dtype=object))
    return Yardstick(HeldOut(texts, np.concatenate(labels), np.concatenate(names)),
                     {d.name for d in real} | set(STAFF_SETS),
                     frozenset(d.name for d in real if d.kind == LABELS))


def compare(trained: TrainedModel, current: Scorer | None, yard: Yardstick) -> Decision:
    """Should `trained` replace `current`? Refused when it saw less data, when the
    comparison set is incomplete, or when it is worse there (see module doc)."""
    candidate = Scorer.of(trained)
    new = _pr_auc_by_dataset(yard.held, np.nan_to_num(candidate.score(yard.held.texts)))
    if current is None:
        return Decision(True, "no model was promoted yet", new, {})
    had = {d["name"]: d["rows"] for d in current.meta.get("datasets", [])}
    has = {d["name"]: d["rows"] for d in trained.datasets}
    less = [f"{name} ({has.get(name, 0)} rows < {rows})" for name, rows in sorted(had.items())
            if has.get(name, 0) < rows]
    if less:
        return Decision(False, f"trained on less data than the promoted model {current.version}: "
                               + ", ".join(less), new, {})
    missing = [name for name in had if name in TRAINING_CORPORA and name not in yard.present]
    if missing:
        return Decision(False, "the comparison set is incomplete (real corpora the promoted "
                               f"model was trained on are missing: {', '.join(missing)}; set "
                               "TAGWATCH_CORPORA_DIR to the corpora folder)", new, {})
    old = _pr_auc_by_dataset(yard.held, np.nan_to_num(current.score(yard.held.texts)))
    if not new:
        return Decision(False, "the comparison set has too few of each label to compare models",
                        new, old)
    return _judge(new, old, yard, current.version)


def _judge(new: dict, old: dict, yard: Yardstick, version: str) -> Decision:
    """The PR-AUC rules of the module doc, on the sets both models were measured on."""
    both = [name for name in new if name in old]
    watched = [n for n in both if n in yard.labels or n in STAFF_SETS]
    public = [n for n in both if n not in watched]
    weight = {n: LABEL_SHARE * max(1, len(public)) if n in yard.labels else 1.0 for n in both}
    mean_new, mean_old = (float(np.average([m[n] for n in both], weights=[weight[n] for n in both]))
                          if both else 0.0 for m in (new, old))
    summary = (f"PR-AUC on the comparison set, weighted mean over {len(both)} sets: new "
               f"{mean_new:.4f}, promoted {version} {mean_old:.4f}")
    drops = {n: old[n] - new[n] for n in watched}
    worst = max(drops, key=drops.get) if drops else None
    if worst is not None and drops[worst] > MAX_DROP:
        return Decision(False, f"{summary}; worse on {worst} ({new[worst]:.4f} < "
                               f"{old[worst]:.4f} by more than {MAX_DROP})", new, old)
    if public:
        public_new, public_old = (float(np.mean([m[n] for n in public])) for m in (new, old))
        if public_old - public_new > MAX_DROP:
            return Decision(False, f"{summary}; worse on the public corpora ({public_new:.4f} < "
                                   f"{public_old:.4f} in the mean by more than {MAX_DROP})", new, old)
    if mean_new < mean_old - TOLERANCE:
        return Decision(False, f"{summary}: worse", new, old)
    return Decision(True, f"{summary}: not worse", new, old)


def _pr_auc_by_dataset(held: HeldOut, scores: np.ndarray) -> dict:
    """PR-AUC per dataset whose held-out posts have both labels."""
    result = {}
    for name in sorted(set(held.dataset.tolist())):
        mask = held.dataset == name
        y = held.labels[mask]
        if 0 < y.sum() < len(y):
            value = float(average_precision_score(y, scores[mask]))
            if not math.isnan(value):
                result[name] = round(value, 4)
    return result
