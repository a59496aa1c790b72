"""The classifier's life in the application: train on the default data, the warehouse labels
and given files, compare with the model in use, and promote the new one only if it is better.
The CLI (`tagwatch train`, and any command that scores with no model yet) and the demo use it."""
from __future__ import annotations

from collectors.crashpoints import crashpoint
from tagwatch.config import Settings
from tagwatch.console import UserError, err, out
from tagwatch.progress import progress
from warehouse.db import session


def ensure_model(settings: Settings) -> None:
    """Score with the current model; with none yet (or one of an old format), train one first."""
    from classifiers.errors import ModelFormatError, ModelNotFound
    from classifiers.store import load

    try:
        load(settings.models_dir)
    except ModelNotFound as exc:
        why = str(exc) if isinstance(exc, ModelFormatError) else \
            f"no trained model in {settings.models_dir}"
        err(f"{why}: training one on the default data")
        train_and_promote(settings, inputs=[], default_data=True, allow_download=True)


def train_and_promote(settings: Settings, inputs: list[str], default_data: bool,
                      allow_download: bool) -> str:
    """Train on the default data, the warehouse labels and `inputs`; promote if better on the
    fixed yardstick (classifiers.registry), else say why not."""
    from classifiers import data, registry, store, training
    from classifiers.errors import ModelIntegrityError, ModelNotFound
    from classifiers.labels import labels_dataset

    reference, notes = data.default_datasets(settings, allow_download=allow_download)
    with session(settings.db_path) as con:
        for note in registry.recover(con, settings.models_dir):
            err(f"recovered: {note}")
        labelled = labels_dataset(con)
    if labelled is not None:
        reference.append(labelled)
        notes.append(f"data: {len(labelled.texts)} analyst label(s) from the warehouse "
                     f"(together weighing {training.LABEL_SHARE:g} x all real corpora)")
    datasets = list(reference) if default_data else []
    if inputs:
        datasets.append(data.dataset_from_files("input", inputs))
    if not datasets:
        raise UserError("nothing to train on: give --input FILE.csv or drop --no-default-data")
    for note in notes:
        err(note)
    with progress(f"training on {sum(len(d.texts) for d in datasets):,} posts"):
        trained = training.train(datasets, notes=notes)
    version = store.save(trained, settings.models_dir, make_current=False)
    crashpoint("train.saved")
    out(f"trained model {version} on " + ", ".join(
        f"{d['name']} ({d['rows']} rows)" for d in trained.datasets))
    out("held-out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in trained.metrics.items() if not isinstance(v, dict)))
    out(f"operating threshold {trained.threshold:.3f}; saved in {settings.models_dir / version}")

    with session(settings.db_path) as con:
        current_version = registry.promoted_version(con)
    current_version = current_version or store.current_version(settings.models_dir)
    current = None
    if current_version:
        try:
            current = store.load(settings.models_dir, current_version)
        except (ModelNotFound, ModelIntegrityError) as exc:
            err(f"warning: the promoted model cannot be loaded, so it cannot be compared: {exc}")
    decision = registry.compare(trained, current, registry.yardstick(reference))
    with session(settings.db_path) as con:
        registry.register(con, trained, settings.models_dir)
        crashpoint("train.registered")
        if decision.promote:
            registry.promote(con, version, settings.models_dir, f"promoted: {decision.reason}")
        else:
            registry.record_decision(con, version, f"not promoted: {decision.reason}")
    if decision.promote:
        out(f"promoted {version}: {decision.reason}")
    else:
        out(f"NOT promoted {version}: {decision.reason}; {current_version} stays in use "
            f"(promote it anyway with `tagwatch models promote {version}`)")
    return version
