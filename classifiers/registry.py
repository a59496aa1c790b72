"""The model registry in the warehouse: record every trained model, promote one.

`tagwatch train` registers each new model and promotes it only if it is not
worse than the promoted one on the same held-out posts: the new model's
held-out fifth of every dataset, which by construction (`model.held_out_folds`)
neither model was trained on. The comparison is PR-AUC, per dataset (each
source counts, not just the biggest): the new model must not lose more than
MAX_DROP on any dataset, and its mean over datasets must not be lower than the
promoted model's less TOLERANCE (retraining on the same data moves it by less).

Which model scores is recorded twice, kept in step by `promote`: the
`promoted` flag here (what analysts query) and the CURRENT file in the models
directory (what a scorer loads, without needing the warehouse).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from classifiers import model as m
from classifiers.corpora import sha256_of
from warehouse.db import WarehouseError, transaction

TOLERANCE = 0.002
MAX_DROP = 0.02


@dataclass
class Decision:
    promote: bool
    reason: str
    new: dict  # dataset -> PR-AUC of the new model
    current: dict  # dataset -> PR-AUC of the promoted model (empty when there is none)


def register(con, trained: m.TrainedModel, models_dir: Path) -> None:
    """Record a saved model (its file must already be in `models_dir`)."""
    path = Path(models_dir) / trained.version / m.MODEL_FILE
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
    path = Path(models_dir) / version / m.MODEL_FILE
    if not path.is_file():
        raise WarehouseError(f"model {version}: file {path} is missing; cannot promote it")
    actual = sha256_of(path)
    if actual != row[1]:
        raise m.ModelIntegrityError(f"model {version}: {path} has sha256 {actual} but the "
                                    f"registry recorded {row[1]}; refusing to promote it")
    with transaction(con):
        con.execute("UPDATE models SET promoted = FALSE WHERE promoted AND version <> ?", [version])
        con.execute("UPDATE models SET promoted = TRUE, promoted_at = now(), "
                    "decision = coalesce(?, decision) WHERE version = ?", [decision, version])
    m.set_current(models_dir, version)


def record_decision(con, version: str, decision: str) -> None:
    con.execute("UPDATE models SET decision = ? WHERE version = ?", [decision, version])


def compare(trained: m.TrainedModel, current: m.Scorer | None,
            reference: m.HeldOut | None = None) -> Decision:
    """Should `trained` replace `current`? Both scored on the same held-out posts.

    Those are `trained`'s held-out posts, plus those of any `reference`
    dataset it was not trained on (the default data and the warehouse labels:
    a model trained on one small file is still judged on everything).
    """
    held = trained.held_out
    if reference is not None:
        extra = ~np.isin(reference.dataset, held.dataset)
        held = m.HeldOut(held.texts + [t for t, e in zip(reference.texts, extra) if e],
                         np.concatenate([held.labels, reference.labels[extra]]),
                         np.concatenate([held.dataset, reference.dataset[extra]]))
    new = _pr_auc_by_dataset(held, trained.pipeline.predict_proba(held.texts)[:, 1]
                             if held.texts else np.zeros(0))
    if current is None:
        return Decision(True, "no model was promoted yet", new, {})
    scores = current.score(held.texts)
    old = _pr_auc_by_dataset(held, np.nan_to_num(scores, nan=0.0))
    if not new:
        return Decision(False, "the held-out posts have too few of each label to compare models",
                        new, old)
    drops = {name: old[name] - new[name] for name in new}
    mean_new, mean_old = np.mean(list(new.values())), np.mean([old[n] for n in new])
    summary = (f"held-out PR-AUC, mean over datasets: new {mean_new:.4f}, "
               f"promoted {current.version} {mean_old:.4f}")
    worst = max(drops, key=drops.get)
    if drops[worst] > MAX_DROP:
        return Decision(False, f"{summary}; worse on {worst} ({new[worst]:.4f} < "
                               f"{old[worst]:.4f} by more than {MAX_DROP})", new, old)
    if mean_new < mean_old - TOLERANCE:
        return Decision(False, f"{summary}: worse", new, old)
    return Decision(True, f"{summary}: not worse", new, old)


def _pr_auc_by_dataset(held: m.HeldOut, scores: np.ndarray) -> dict:
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
