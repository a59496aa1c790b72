"""Storage: versioned model files, checked before they are loaded.

Models are stored as ``<models_dir>/<version>/{model.skops,meta.json}`` with
``<models_dir>/CURRENT`` naming the version in use. A model file is an input
the system must not blindly execute: it is checked against the sha256 in its
meta.json and loaded by skops with an explicit list of trusted types. A model
of another FORMAT (an older tagwatch's) is refused with a message to retrain.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import sklearn
import skops
import skops.io
from sklearn.pipeline import Pipeline

from classifiers.corpora import sha256_of
from collectors.crashpoints import crashpoint
from classifiers.errors import ModelFormatError, ModelIntegrityError, ModelNotFound
from classifiers.scoring import Scorer
from classifiers.training import StaffHead, TrainedModel

# 1: one calibrated pipeline trained with the seed set (tagwatch before the cross-corpus
# model). 2: the general model stacked with alt-profanity-check, a staff head, staff_target.
# 3: the staff head reads posts with staff names masked (2's head would be fed columns it
# never learned).
FORMAT = 3
MODEL_FILE, META_FILE, CURRENT_FILE = "model.skops", "meta.json", "CURRENT"
_VERSION_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
RETRAIN = "train a new one with `tagwatch train`"

# Every type a model file may contain beyond skops' own defaults, reviewed
# against skops.io.get_untrusted_types() of a saved model. Anything else in
# a file refuses to load.
TRUSTED_TYPES = [
    "classifiers.text.HashedNgrams",
    "classifiers.text.normalise_many",
    "classifiers.estimator.StackedLinearClassifier",
    "classifiers.features.ApcPrior",
]


def save(model: TrainedModel, models_dir: str | Path, *, make_current: bool = True) -> str:
    """Write the model and its meta.json as a new version; by default make it CURRENT."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    version = model.version
    final = models_dir / version
    if final.exists():
        raise FileExistsError(f"model version {version} already exists in {models_dir}")
    # The process id in the name lets a later training tell a dead process's half-written
    # folder (kill -9, a crash) from one being written now (remove_abandoned).
    staging = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{version}.{os.getpid()}."))
    try:
        # The threshold is stored in the hashed file too: meta.json alone could be edited
        # to flag nothing (or everything) without failing the integrity check.
        skops.io.dump({"format": FORMAT, "general": model.general,
                       "threshold": float(model.threshold),
                       "staff_features": model.staff.features if model.staff else None,
                       "staff_classifier": model.staff.classifier if model.staff else None,
                       "staff_target": model.staff_target, "categories": model.category_model},
                      staging / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        meta = {
            "format": FORMAT,
            "version": version,
            "trained_at": model.trained_at.isoformat(timespec="seconds"),
            "threshold": model.threshold,
            "datasets": model.datasets,
            "metrics": model.metrics,
            "notes": model.notes,
            "sklearn_version": sklearn.__version__,
            "skops_version": skops.__version__,
            "model_file": MODEL_FILE,
            "model_sha256": sha256_of(staging / MODEL_FILE),
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o700)  # models are private like the rest of the data
        crashpoint("train.saving")
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if make_current:
        set_current(models_dir, version)
    return version


def set_current(models_dir: str | Path, version: str) -> None:
    """Point CURRENT at `version` (atomically: a reader sees the old or the new name)."""
    models_dir = Path(models_dir)
    if not _VERSION_RE.fullmatch(version) or not (models_dir / version / MODEL_FILE).is_file():
        raise ModelNotFound(f"model version {version} is not in {models_dir}")
    pointer = models_dir / f".{CURRENT_FILE}.{os.getpid()}"
    pointer.write_text(version + "\n", encoding="utf-8")
    crashpoint("train.pointer")
    os.replace(pointer, models_dir / CURRENT_FILE)


_ABANDONED_RE = re.compile(r"\.(?:\d{8}T\d{6}Z-[0-9a-f]{8}|CURRENT)\.(\d+)(?:\..+)?")


def remove_abandoned(models_dir: str | Path) -> list[str]:
    """Remove what a training that died half-way (kill -9, a crash, a full disk) left in
    `models_dir`: a half-written model folder, a CURRENT pointer not yet moved in place.
    Only those of processes no longer running; returns their names."""
    models_dir = Path(models_dir)
    removed = []
    for entry in sorted(models_dir.iterdir()) if models_dir.is_dir() else []:
        found = _ABANDONED_RE.fullmatch(entry.name)
        if found is None or _running(int(found.group(1))):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def current_version(models_dir: str | Path) -> str | None:
    current = Path(models_dir) / CURRENT_FILE
    return current.read_text(encoding="utf-8").strip() if current.is_file() else None


def load(models_dir: str | Path, version: str | None = None) -> Scorer:
    """The CURRENT (or given) model, after checking it is the file meta.json describes."""
    models_dir = Path(models_dir)
    if version is None:
        current = models_dir / CURRENT_FILE
        if not current.is_file():
            raise ModelNotFound(f"no trained model in {models_dir}: run `tagwatch train` first")
        version = current.read_text(encoding="utf-8").strip()
    if not _VERSION_RE.fullmatch(version):
        raise ModelNotFound(f"{version!r} is not a model version (expected e.g. "
                            f"20240101T120000Z-0123abcd)")
    directory = models_dir / version
    if not (directory / MODEL_FILE).is_file() or not (directory / META_FILE).is_file():
        raise ModelNotFound(f"model version {version} is not in {models_dir} "
                            "(incomplete or removed): run `tagwatch train`")
    meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    if meta.get("format", 1) != FORMAT:
        raise ModelFormatError(
            f"model {version} in {models_dir} is of format {meta.get('format', 1)} (an older "
            f"tagwatch's); this tagwatch reads format {FORMAT} only: {RETRAIN}")
    data = (directory / MODEL_FILE).read_bytes()  # hash and load the very same bytes
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("model_sha256"):
        raise ModelIntegrityError(
            f"{directory / MODEL_FILE} has sha256 {actual} but meta.json records "
            f"{meta.get('model_sha256')}: the file was changed after training; refusing to load it"
        )
    unexpected = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelIntegrityError(
            f"{directory / MODEL_FILE} contains types that are not trusted: {unexpected}; "
            f"it was not loaded. If it was made by an older tagwatch, {RETRAIN}; "
            "otherwise treat the file as tampered with")
    stored = skops.io.loads(data, trusted=TRUSTED_TYPES)
    if (not isinstance(stored, dict) or stored.get("format") != FORMAT
            or not isinstance(stored.get("general"), Pipeline)):
        raise ModelIntegrityError(f"{directory / MODEL_FILE} is not a tagwatch model of format "
                                  f"{FORMAT}; if it was made by an older tagwatch, {RETRAIN}")
    staff = (StaffHead(stored["staff_features"], stored["staff_classifier"])
             if stored.get("staff_classifier") is not None else None)
    return Scorer(stored["general"], version, _checked_threshold(stored, meta, directory), meta,
                  staff=staff,
                  staff_target=stored.get("staff_target"), category_model=stored.get("categories"))


def _checked_threshold(stored: dict, meta: dict, directory: Path) -> float:
    """The threshold from the hashed model file, refused if meta.json says otherwise."""
    if "threshold" not in stored:
        raise ModelIntegrityError(f"{directory / MODEL_FILE} holds no threshold: {RETRAIN}")
    threshold = float(stored["threshold"])
    if meta.get("threshold") is None or float(meta["threshold"]) != threshold:
        raise ModelIntegrityError(
            f"{directory / META_FILE} records threshold {meta.get('threshold')} but the model file "
            f"holds {threshold}: meta.json was changed after training; refusing to load it")
    return threshold
