"""Labels in, better model out: labels import, the registry, promote-if-not-worse, evaluate."""
from __future__ import annotations

import csv
import dataclasses
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from classifiers import data, registry, scoring, store, training
from classifiers import labels as lb
from tagwatch.config import Settings
from warehouse.db import WarehouseError, session

# An invented slang that neither the seed set nor Davidson has: "a grobbling skelp" is
# abuse, "a splendid quibbet" praise. Fictional names and schools only.
STAFF = ["Mr Quillfeather", "Mrs Ambleside", "Ms Rookwood", "Mr Tarrant-Vey", "Miss Holloway-Finch",
         "Mr Brindle", "Mrs Oakenshaw", "Ms Pettigrew-Lane"]
SCHOOLS = ["Larchmont High", "Saltridge Academy", "Corvale School", "Dunmere College"]
ABUSE = ["{t} at {s} is a grobbling skelp", "{t} is such a skelpy grobbler, everyone skelp {o}",
         "skelp {t} hard, total grobble", "{t} from {s} = grobbling skelp lol"]
PRAISE = ["{t} at {s} is a splendid quibbet", "{t} is such a quibbety teacher, thank you {o}",
          "shout out to {t}, total quibbet", "{t} from {s} = splendid quibbet lol"]

pytestmark = pytest.mark.slow  # trains several models, in subprocesses


def slang_posts(n_per_label: int, rng: random.Random) -> list[tuple[str, int]]:
    posts = []
    for label, templates in ((1, ABUSE), (0, PRAISE)):
        for i in range(n_per_label):
            t = rng.choice(STAFF)
            posts.append((templates[i % len(templates)].format(
                t=t, s=rng.choice(SCHOOLS), o="him" if t.startswith("Mr ") else "her")
                + f" #{rng.choice(['teachertok', 'school', 'fyp'])} {i}", label))
    return posts


def run(settings, *args, check=True):
    """The `tagwatch` command as a user runs it: a real process."""
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def offline(settings, tmp_path, monkeypatch):
    """Seed data only (a few seconds a model) and an empty models directory of its own."""
    monkeypatch.delenv("TAGWATCH_CORPORA_DIR", raising=False)
    return dataclasses.replace(settings, corpora_dir=None, models_dir=tmp_path / "models")


def label_count(settings) -> int:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM labels").fetchone()[0]


# --- the held-out split --------------------------------------------------------------


def test_held_out_split_of_a_post_does_not_depend_on_the_other_posts():
    posts = slang_posts(50, random.Random(1))
    small = data.Dataset("labels", "x", "0", [t for t, _ in posts[:40]], np.ones(40, dtype=np.int64))
    large = data.Dataset("labels", "x", "0", [t for t, _ in posts], np.ones(len(posts), dtype=np.int64))
    assert (training.held_out_folds(small) == training.held_out_folds(large)[:40]).all()
    folds = training.held_out_folds(large)
    assert set(folds.tolist()) <= set(range(training.N_FOLDS)) and 0.05 < (folds == 0).mean() < 0.4
    # Near copies of a seed post stay together: the seed set is split by template.
    seed = data.seed_dataset()
    seed_folds = training.held_out_folds(seed)
    for template in set(seed.groups):
        assert len({f for f, g in zip(seed_folds, seed.groups) if g == template}) == 1


# --- labels import -------------------------------------------------------------------


def test_labels_import_stores_every_row_with_who_when_and_source(offline, tmp_path):
    a = write_csv(tmp_path / "a.csv", [("Mr Brindle is a grobbling skelp", "1", "mastodon", "p1", "insult"),
                                       ("thanks Mrs Oakenshaw", "0", "", "", "")],
                  header=("text", "label", "platform", "post_id", "category"))
    b = tmp_path / "b.ndjson"
    b.write_text('{"text": "skelp Ms Rookwood", "label": true}\n', encoding="utf-8")
    out = run(offline, "labels", "import", str(a), str(b), "--by", "analyst-7").stdout
    assert "imported 3 label(s) from 2 file(s)" in out
    with duckdb.connect(str(offline.db_path), read_only=True) as con:
        rows = con.execute("SELECT text, label, category, platform, post_id, source, added_by, "
                           "added_at IS NOT NULL FROM labels ORDER BY label_id").fetchall()
    assert rows == [
        ("Mr Brindle is a grobbling skelp", 1, "insult", "mastodon", "p1", "import:a.csv", "analyst-7", True),
        ("thanks Mrs Oakenshaw", 0, None, None, None, "import:a.csv", "analyst-7", True),
        ("skelp Ms Rookwood", 1, None, None, None, "import:b.ndjson", "analyst-7", True),
    ]
    again = run(offline, "labels", "import", str(a)).stdout
    assert "imported 0 label(s)" in again and label_count(offline) == 3


@pytest.mark.parametrize("content, message", [
    ("text,label\nfine,1\nalso fine,0\nbad,maybe\n", "line 4: label 'maybe'"),
    ("text,label\nfine,1\n,0\n", "line 3: empty text"),
    ("body,label\nfine,1\n", "line 1: missing column(s) ['text']"),
    ("text,label,platform,post_id\nfine,1,mastodon,\n", "line 2: give both platform and post_id"),
    ("text,label,category\nfine,1,rude\n", "line 2: unknown category 'rude'"),
    (b"text,label\n\xff\xfe\x00junk,1\n", "not UTF-8"),
])
def test_a_bad_label_file_is_refused_naming_the_line_and_nothing_is_imported(
        offline, tmp_path, content, message):
    good = write_csv(tmp_path / "good.csv", [("Mr Brindle is a skelp", 1)])
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = run(offline, "labels", "import", str(good), str(bad), check=False)
    assert proc.returncode == 1
    assert message in proc.stderr and "bad.csv" in proc.stderr and "Traceback" not in proc.stderr
    assert label_count(offline) == 0  # the good file was not half-imported either


def test_labels_import_of_a_missing_file_is_a_clear_error(offline, tmp_path):
    proc = run(offline, "labels", "import", str(tmp_path / "nope.csv"), check=False)
    assert proc.returncode == 1 and "nope.csv: no such file" in proc.stderr


# --- the learning loop, unit level -----------------------------------------------------


def test_importing_in_domain_labels_raises_pr_auc_on_that_domain(settings, tmp_path):
    rng = random.Random(7)
    posts = slang_posts(300, rng)
    rng.shuffle(posts)
    imported, evaluation = posts[:400], posts[400:]
    seed = data.seed_dataset()
    before = training.train([seed])
    with session(tmp_path / "w.duckdb") as con:
        lb.import_files(con, [write_csv(tmp_path / "l.csv", imported)])
        labelled = lb.labels_dataset(con)
    after = training.train([seed, labelled])
    texts, y = [t for t, _ in evaluation], [label for _, label in evaluation]
    pr_before = average_precision_score(y, training.score_texts(before, texts))
    pr_after = average_precision_score(y, training.score_texts(after, texts))
    assert pr_after >= pr_before + 0.05, (pr_before, pr_after)
    decision = registry.compare(after, _scorer(before, tmp_path),
                                registry.yardstick([seed, labelled]))
    assert decision.promote, decision.reason
    assert "labels" in decision.new and "staff_eval" in decision.new


SHARED_CORPORA = (Path(os.environ["TAGWATCH_CORPORA_DIR"])
                  if os.environ.get("TAGWATCH_CORPORA_DIR") else None)


@pytest.mark.skipif(SHARED_CORPORA is None or not (SHARED_CORPORA / "toxicr").is_dir(),
                    reason="set TAGWATCH_CORPORA_DIR to the shared corpora (the Makefile does)")
def test_two_thousand_labels_of_a_real_source_the_model_never_saw_raise_its_pr_auc(tmp_path):
    """The issue's bar on real text: a real corpus left out of training stands for the posts
    tagwatch watches; 2,000 of them, imported as analysts' labels (whole conversations at a
    time), must raise PR-AUC on the rest of it by 0.05, and the model must be promoted.
    Four small real corpora train the model (the full loop on every corpus:
    bench/bench_learning_loop.py)."""
    settings = dataclasses.replace(Settings.from_env(), corpora_dir=SHARED_CORPORA)
    real, _ = data.real_datasets(settings)
    corpora = [d for d in real if d.name in ("strudel", "gh_incivility", "reddit_incivility",
                                            "convabuse")]
    unseen = next(d for d in real if d.name == "toxicr")
    rng = np.random.default_rng(3)
    imported = np.zeros(len(unseen.texts), bool)
    for group in rng.permutation(np.unique(unseen.groups)):
        if imported.sum() >= 2000:
            break
        imported[np.asarray(unseen.groups) == group] = True
    rows = [(t, int(y)) for t, y, i in zip(unseen.texts, unseen.labels, imported) if i]
    with session(tmp_path / "w.duckdb") as con:
        lb.import_files(con, [write_csv(tmp_path / "labels.csv", rows)])
        labelled = lb.labels_dataset(con)
    before = training.train(corpora, heads=False)
    after = training.train([*corpora, labelled], heads=False)
    test = ~imported
    texts = [t for t, k in zip(unseen.texts, test) if k]
    y = unseen.labels[test]
    pr_before = average_precision_score(y, training.score_texts(before, texts))
    pr_after = average_precision_score(y, training.score_texts(after, texts))
    assert pr_after >= pr_before + 0.05, (pr_before, pr_after)
    # The yardstick's real part (the staff sets are scored by the staff head, which these
    # general-only models lack; bench/bench_learning_loop.py runs the whole `tagwatch train`).
    real = [*corpora, labelled]
    yard = registry.Yardstick(training.held_out_of(real), {d.name for d in real},
                              frozenset({labelled.name}))
    decision = registry.compare(after, _scorer(before, tmp_path), yard)
    assert decision.promote, (pr_before, pr_after, decision.reason, decision.new, decision.current)
    assert decision.new["labels"] > decision.current["labels"]


def _scorer(trained: training.TrainedModel, tmp_path: Path) -> scoring.Scorer:
    directory = tmp_path / f"models-{trained.version}"
    store.save(trained, directory)
    return store.load(directory)


# --- train, the registry, promotion ------------------------------------------------------


def test_train_promotes_the_first_model_then_refuses_a_worse_one(offline, tmp_path):
    first = run(offline, "train", "--offline").stdout
    assert "promoted" in first and "no model was promoted yet" in first
    version = first.split("trained model ")[1].split()[0]
    assert (offline.models_dir / "CURRENT").read_text().strip() == version

    # Deliberately worse with more data: the default data plus seed texts whose labels
    # are shuffled, given as an analyst's file (which weighs a lot).
    seed = data.seed_dataset()
    rng = random.Random(3)
    shuffled = [(t, rng.choice([0, 1])) for t in rng.sample(seed.texts, 4000)]
    bad = write_csv(tmp_path / "shuffled.csv", shuffled)
    second = run(offline, "train", "--offline", "--input", str(bad)).stdout
    assert "NOT promoted" in second and "worse" in second, second
    worse = second.split("trained model ")[1].split()[0]
    assert (offline.models_dir / "CURRENT").read_text().strip() == version

    # Less data than the promoted model: refused for that alone, whatever it scores.
    third = run(offline, "train", "--offline", "--no-default-data", "--input", str(bad)).stdout
    assert "NOT promoted" in third and "trained on less data than the promoted model" in third
    assert f"staff_seed (0 rows < {len(seed.texts)})" in third

    listing = run(offline, "models", "list", "--format", "csv").stdout
    rows = list(csv.DictReader(listing.splitlines()))
    assert [r["in_use"] for r in rows] == ["", "", "*"] and rows[2]["version"] == version
    assert rows[1]["version"] == worse and rows[1]["decision"].startswith("not promoted")

    # An operator may still promote by hand; the flag and CURRENT move together.
    run(offline, "models", "promote", worse)
    assert (offline.models_dir / "CURRENT").read_text().strip() == worse
    with duckdb.connect(str(offline.db_path), read_only=True) as con:
        assert con.execute("SELECT version FROM models WHERE promoted").fetchall() == [(worse,)]


SHARED = Path(os.environ["TAGWATCH_CORPORA_DIR"]) if os.environ.get("TAGWATCH_CORPORA_DIR") else None


@pytest.mark.skipif(SHARED is None or not (SHARED / "strudel").is_dir(),
                    reason="set TAGWATCH_CORPORA_DIR to the shared corpora (the Makefile does)")
def test_train_from_a_plain_shell_does_not_replace_a_model_trained_on_real_corpora(offline, tmp_path):
    # Two small real corpora, copied whole (their files are checksum-verified).
    import shutil
    corpora = tmp_path / "corpora"
    for name in ("strudel", "foxnews"):
        shutil.copytree(SHARED / name, corpora / name)
    with_corpora = dataclasses.replace(offline, corpora_dir=corpora)
    first = run(with_corpora, "train", "--offline").stdout
    assert "strudel (" in first and "foxnews (" in first and "promoted" in first
    version = first.split("trained model ")[1].split()[0]

    plain = run(offline, "train", "--offline")  # no TAGWATCH_CORPORA_DIR
    assert "TAGWATCH_CORPORA_DIR" in plain.stderr  # the warning says what is missing
    assert "NOT promoted" in plain.stdout
    assert "trained on less data than the promoted model" in plain.stdout
    assert "foxnews (0 rows <" in plain.stdout and "strudel (0 rows <" in plain.stdout
    assert (offline.models_dir / "CURRENT").read_text().strip() == version


def test_promote_refuses_an_unknown_version_and_a_tampered_file(offline):
    out = run(offline, "train", "--offline").stdout
    version = out.split("trained model ")[1].split()[0]
    proc = run(offline, "models", "promote", "20990101T000000Z-00000000", check=False)
    assert proc.returncode == 1 and "no model '20990101T000000Z-00000000'" in proc.stderr
    with (offline.models_dir / version / store.MODEL_FILE).open("ab") as fh:
        fh.write(b"tampered")
    proc = run(offline, "models", "promote", version, check=False)
    assert proc.returncode == 1 and "refusing to promote" in proc.stderr


def test_registry_promote_keeps_one_promoted_model(settings, tmp_path):
    trained = training.train([data.seed_dataset()])
    other = dataclasses.replace(trained, trained_at=trained.trained_at.replace(year=2030))
    models = tmp_path / "models"
    with session(tmp_path / "w.duckdb") as con:
        for t in (trained, other):
            store.save(t, models, make_current=False)
            registry.register(con, t, models)
        registry.promote(con, trained.version, models)
        registry.promote(con, other.version, models)
        assert con.execute("SELECT version FROM models WHERE promoted").fetchall() == [(other.version,)]
        with pytest.raises(WarehouseError, match="no model"):
            registry.promote(con, "nope", models)


# --- evaluate ---------------------------------------------------------------------------


def test_evaluate_prints_the_metrics_and_writes_a_pr_curve(settings, tmp_path):
    posts = [(t, 1) for t in ["Mr Halloway is a nonce, share this", "gonna slap Mr Farrow friday",
                              "Miss Varga's address is 4 Quarry Lane, go round"]]
    posts += [(t, 0) for t in ["thanks Miss Adeyemi for the revision session",
                               "Mr Farrow's science club won a prize", "report any teacher abuse"]]
    src = write_csv(tmp_path / "eval.csv", posts + [("", 1)])
    plot = tmp_path / "plots" / "pr.png"
    out = run(settings, "evaluate", "--input", str(src), "--plot", str(plot)).stdout
    for key in ("ROC-AUC", "PR-AUC", "Brier", "precision", "recall", "F1", "reliability"):
        assert key in out
    assert "6 posts, 3 abusive" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"curve: {plot}" in out


def test_evaluate_warns_when_the_test_posts_were_imported_as_labels(settings, tmp_path):
    posts = [("Mr Halloway is a nonce, share this", 1), ("gonna slap Mr Farrow friday", 1),
             ("thanks Miss Adeyemi for the revision session", 0), ("Mr Farrow's club won a prize", 0)]
    src = write_csv(tmp_path / "eval.csv", posts)
    clean = run(settings, "evaluate", "--input", str(src))
    assert "warning" not in clean.stderr
    run(settings, "labels", "import", str(write_csv(tmp_path / "labels.csv", posts[:1] + posts[2:3])))
    proc = run(settings, "evaluate", "--input", str(src))
    assert "warning: 2 of the 4 posts in" in proc.stderr and "flatter the model" in proc.stderr


def test_evaluate_refuses_one_sided_or_missing_input(settings, tmp_path):
    src = write_csv(tmp_path / "one.csv", [("Mr Halloway is a nonce", 1)])
    proc = run(settings, "evaluate", "--input", str(src), check=False)
    assert proc.returncode == 1 and "need both" in proc.stderr
    proc = run(settings, "evaluate", "--input", str(tmp_path / "nope.csv"), check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
