"""The classifier package: labelled data, training, versioned storage, safe loading, scoring."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifiers import data, scoring, signals, store, training
from classifiers.corpora import CORPORA
from classifiers.errors import ModelFormatError, ModelIntegrityError, ModelNotFound
from classifiers.estimator import StackedLinearClassifier, text_model
from classifiers.features import general_pipeline
from classifiers.signals import aimed_at_staff
from classifiers.text import HashedNgrams, normalise_many
from tagwatch.config import Settings

import make_sample  # scripts/make_sample.py
import make_seed  # scripts/make_seed.py

SHARED = Path(os.environ["TAGWATCH_CORPORA_DIR"]) if os.environ.get("TAGWATCH_CORPORA_DIR") else None
DAVIDSON_CSV = SHARED / "davidson" / CORPORA["davidson"].converted_file if SHARED else None
needs_shared = pytest.mark.skipif(
    DAVIDSON_CSV is None or not DAVIDSON_CSV.is_file(),
    reason="set TAGWATCH_CORPORA_DIR to the shared corpora (the Makefile does) to run this",
)

# Fictional posts written for this test, in none of the seed templates.
UNSEEN_ABUSE = [
    "Mrs Pennywhistle at Oakhurst Academy is a paedo, pass it on",
    "everyone go to 22 Foxglove Mews tonight, that's where Mr Trevanion lives",
    "gonna slap Mr Trevanion on friday and film it for the trend",
    "Mrs Pennywhistle sleeps with her sixth formers, the school knows",
    "spam Mr Trevanion's email until he quits, address in my bio",
    "Mrs Pennywhistle is a fat useless cow, nobody can stand her",
]
UNSEEN_HARMLESS = [
    "thank you Mrs Pennywhistle for all the help with my coursework",
    "Mr Trevanion's science club built a rocket today, so proud of them",
    "Oakhurst Academy parents: the autumn fair is on saturday",
    "if anyone posts a teacher's address, report it and tell the school",
    "Mrs Pennywhistle's spelling tests are tough but fair",
    "top tip for new teachers: plan your week on sunday afternoon",
]


def slice_of(dataset: data.Dataset, n: int) -> data.Dataset:
    return dataclasses.replace(dataset, texts=dataset.texts[:n], labels=dataset.labels[:n],
                               groups=dataset.groups[:n] if dataset.groups else None,
                               categories=dataset.categories[:n] if dataset.categories else None)


@pytest.fixture(scope="module")
def trained() -> training.TrainedModel:
    """The seed set plus 3,000 Davidson posts as a real corpus (when the shared corpus is there)."""
    datasets = [data.seed_dataset()]
    if DAVIDSON_CSV is not None and DAVIDSON_CSV.is_file():
        datasets.append(slice_of(data.dataset_from_files("davidson", [DAVIDSON_CSV], data.CORPUS),
                                 3000))
    return training.train(datasets, notes=["test model"])


@pytest.fixture(scope="module")
def models_dir(trained, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    store.save(trained, directory)
    return directory


@pytest.fixture
def scorer(models_dir) -> scoring.Scorer:
    return store.load(models_dir)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- read_labelled --------------------------------------------------------------


def test_read_labelled_accepts_label_spellings_and_ignores_other_columns(tmp_path):
    path = write(tmp_path / "a.csv", "id,text,label,notes\n1,one,1,x\n2,two,0,y\n3,three,TRUE,z\n"
                 "4,four, no ,w\n5,five,Yes,v\n6,six,false,u\n")
    texts, labels = data.read_labelled(path)
    assert texts == ["one", "two", "three", "four", "five", "six"]
    assert labels.tolist() == [1, 0, 1, 0, 1, 0]


def test_read_labelled_takes_several_files_and_ndjson(tmp_path):
    first = write(tmp_path / "a.csv", "text,label\nhello,1\n")
    second = write(tmp_path / "b.ndjson", '{"text": "hi", "label": false}\n\n'
                   '{"text": "yo", "label": 1, "extra": [1]}\n')
    texts, labels = data.read_labelled([first, second])
    assert texts == ["hello", "hi", "yo"]
    assert labels.tolist() == [1, 0, 1]


def test_read_labelled_skips_empty_texts_with_a_count(tmp_path, caplog):
    path = write(tmp_path / "a.csv", 'text,label\nhello,1\n,0\n"  ",1\n')
    with caplog.at_level(logging.WARNING):
        texts, labels = data.read_labelled(path)
    assert texts == ["hello"] and labels.tolist() == [1]
    assert "skipped 2 row(s) with empty text" in caplog.text


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, r"missing\.csv: no such file"),
    ("cols.csv", "text,class\nhello,1\n", r"cols\.csv: line 1: missing column\(s\) \['label'\]"),
    ("bad.csv", "text,label\nok,1\nbad,maybe\n", r"bad\.csv: line 3: label 'maybe'"),
    ("multi.csv", 'text,label\n"two\nlines",1\nx,2\n', r"multi\.csv: line 4: label '2'"),
    ("bad.ndjson", '{"text": "a", "label": 1}\n{"text": "b"}\n', r"bad\.ndjson: line 2: missing"),
    ("broken.ndjson", '{"text": "a", "label": 1}\n{nope\n', r"broken\.ndjson: line 2: not valid JSON"),
    ("latin1.csv", b"text,label\ncaf\xe9,1\n", r"latin1\.csv: not UTF-8"),
])
def test_read_labelled_errors_name_the_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write(path, content)
    with pytest.raises(ValueError, match=message):
        data.read_labelled(path)


# --- the seed set ------------------------------------------------------------------


def test_seed_csv_is_what_make_seed_generates():
    with data.SEED_PATH.open(newline="", encoding="utf-8") as fh:
        stored = list(csv.DictReader(fh))
    generated = [{k: str(v) for k, v in row.items()} for row in make_seed.generate()]
    assert stored == generated, "run python scripts/make_seed.py"


def _four_word_runs(text: str) -> set[tuple[str, ...]]:
    """Every run of four words of a text or template (never across a {slot})."""
    runs = set()
    for part in re.split(r"\{[^}]*\}", text.lower()):
        words = re.findall(r"[a-z0-9']+", part)
        runs |= {tuple(words[i:i + 4]) for i in range(len(words) - 3)}
    return runs


def test_the_fifth_round_of_seed_templates_copies_no_evaluation_or_demo_post():
    # The seed set teaches; staff_select, staff_eval and the demo sample judge. A template
    # that shares four words in a row with one of their posts would flatter the judges.
    judged = set()
    for name in ("staff_select", "staff_eval"):
        judged |= {run for text in data.staff_set(name).texts for run in _four_word_runs(text)}
    judged |= {run for text, _ in make_sample.HARMLESS + make_sample.ABUSIVE
               for run in _four_word_runs(text)}
    shared = {template: sorted(_four_word_runs(template) & judged)
              for templates in make_seed.FIFTH_ROUND.values() for template in templates}
    assert len(shared) >= 50
    assert not {t: runs for t, runs in shared.items() if runs}


def test_seed_set_is_balanced_and_covers_every_category():
    seed = data.seed_dataset()
    assert 0.45 < seed.labels.mean() < 0.55
    assert len(seed.texts) >= 600
    with data.SEED_PATH.open(newline="", encoding="utf-8") as fh:
        categories = {row["category"] for row in csv.DictReader(fh)}
    assert categories == {"allegation", "sexual", "threat", "insult", "doxxing", "harassment", "none"}


# --- training ------------------------------------------------------------------------


@pytest.mark.slow
def test_training_reports_held_out_metrics_and_a_threshold(trained):
    assert 0 < trained.threshold < 1
    # Held-out metrics are of real posts: the seed set trains whole (see the next test).
    assert "staff_seed" not in set(trained.held_out.dataset.tolist())
    assert "staff_seed" not in trained.metrics.get("by_dataset", {})
    if DAVIDSON_CSV is not None and DAVIDSON_CSV.is_file():
        for key in ("n", "roc_auc", "pr_auc", "precision", "recall", "f1", "brier",
                    "harmless_flagged"):
            assert key in trained.metrics and key in trained.metrics["by_dataset"]["davidson"]
    assert "sha256" in trained.metrics["split"]["rule"]
    assert trained.metrics["split"]["held_out_sha256"] == trained.held_out.sha256


def test_the_seed_set_trains_whole_and_real_posts_keep_their_held_out_fifth():
    # Issue 12: the seed set's fold 0 was held out of training for no comparison (the
    # yardstick is real posts and the staff sets): a fifth of its templates the staff head
    # never learned. Real datasets keep fold 0 out: the yardstick compares models on it.
    seed = slice_of(data.seed_dataset(), 2000)
    texts = [f"invented post number {i} about the {w} lesson" for i, w in
             enumerate(["maths", "art", "drama", "french"] * 100)]
    real = data.Dataset("labels", "x", "0", texts, np.arange(len(texts)) % 2, data.LABELS)
    kept = training.trained_on([seed, real])
    seed_part, real_part = kept[:len(seed.texts)], kept[len(seed.texts):]
    assert seed_part.all()
    assert (real_part == (training.held_out_folds(real) != 0)).all() and not real_part.all()
    assert set(training.held_out_of([real]).texts) == {
        t for t, k in zip(real.texts, real_part) if not k}


@pytest.mark.slow
def test_abusive_staff_posts_score_above_harmless_ones(trained):
    scores = training.score_texts(trained, UNSEEN_ABUSE + UNSEEN_HARMLESS)
    assert np.all((scores >= 0) & (scores <= 1))
    truth = [1] * len(UNSEEN_ABUSE) + [0] * len(UNSEEN_HARMLESS)
    assert roc_auc_score(truth, scores) >= 0.85
    assert scores[: len(UNSEEN_ABUSE)].mean() > scores[len(UNSEEN_ABUSE):].mean() + 0.2


def test_training_refuses_too_little_or_one_sided_data():
    with pytest.raises(ValueError, match="no training data"):
        training.train([])
    one_sided = data.Dataset("x", "x", "0" * 64, ["a"] * 30, np.ones(30, dtype=np.int64))
    with pytest.raises(ValueError, match="at least 10"):
        training.train([one_sided])


def test_threshold_flags_at_most_the_share_of_harmless_posts_of_every_source_but_the_worst():
    low = np.sort(np.linspace(0.0, 0.5, 100))
    some = np.sort(np.r_[np.linspace(0.0, 0.3, 16), [0.7, 0.8, 0.9, 0.95]])  # 4 high of 20
    worst = np.sort(np.r_[np.linspace(0.0, 0.3, 10), np.linspace(0.6, 0.99, 10)])  # half high
    threshold = training.threshold_for([low, some, worst], most=0.05)
    # 1 of `some`'s 20 (5%) may be flagged, whatever `worst` does; 2 may not.
    assert 0.9 < threshold <= 0.95 and (some >= threshold).sum() == 1
    assert training.harmless_flagged([low, some, worst], threshold) == pytest.approx(0.05)
    assert training.harmless_flagged([low, some, worst], 0.9) == pytest.approx(0.10)
    assert training.threshold_for([low], most=0.0) > low.max()  # one source: it alone decides


# --- storage ---------------------------------------------------------------------------


def test_save_writes_a_version_with_meta_and_points_current_at_it(trained, models_dir):
    version = (models_dir / "CURRENT").read_text().strip()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", version)
    assert version == trained.version
    meta = json.loads((models_dir / version / "meta.json").read_text())
    model_bytes = (models_dir / version / "model.skops").read_bytes()
    assert meta["model_sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert meta["threshold"] == trained.threshold
    assert meta["notes"] == ["test model"]
    assert {d["name"] for d in meta["datasets"]} >= {"staff_seed"}
    assert {"name", "source", "rows", "positives", "sha256"} <= set(meta["datasets"][0])
    assert meta["sklearn_version"]
    assert [p.name for p in models_dir.iterdir() if p.name.startswith(".")] == []


def test_saving_the_same_version_twice_is_refused(trained, models_dir):
    with pytest.raises(FileExistsError):
        store.save(trained, models_dir)


def test_load_round_trip_scores_like_the_trained_pipeline(trained, scorer):
    texts = UNSEEN_ABUSE + UNSEEN_HARMLESS
    assert scorer.version == trained.version
    assert scorer.threshold == trained.threshold
    np.testing.assert_allclose(scorer.score(texts), training.score_texts(trained, texts))


def copy_model(models_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    version = (models_dir / "CURRENT").read_text().strip()
    target = tmp_path / "models" / version
    target.mkdir(parents=True)
    for name in ("model.skops", "meta.json"):
        (target / name).write_bytes((models_dir / version / name).read_bytes())
    (tmp_path / "models" / "CURRENT").write_text(version + "\n")
    return tmp_path / "models", target


def test_a_tampered_model_file_is_refused(models_dir, tmp_path):
    directory, version_dir = copy_model(models_dir, tmp_path)
    with (version_dir / "model.skops").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelIntegrityError, match="changed after training"):
        store.load(directory)


def test_an_edited_threshold_in_meta_json_is_refused(models_dir, tmp_path):
    """Issue 13 item 9: an attacker who can write meta.json sets the threshold to 1.0 so
    nothing is ever flagged; the threshold is checked against the hashed model file."""
    directory, version_dir = copy_model(models_dir, tmp_path)
    assert store.load(directory).threshold == json.loads((version_dir / "meta.json").read_text())["threshold"]
    meta = json.loads((version_dir / "meta.json").read_text())
    meta["threshold"] = 1.0
    (version_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="threshold 1.0 but the model file holds"):
        store.load(directory)


def untrusted_step(x):
    return x


def test_a_model_with_untrusted_types_is_refused_even_with_a_matching_checksum(models_dir, tmp_path):
    directory, version_dir = copy_model(models_dir, tmp_path)
    rogue = Pipeline([("step", FunctionTransformer(untrusted_step))])
    skops.io.dump(rogue, version_dir / "model.skops")
    meta = json.loads((version_dir / "meta.json").read_text())
    meta["model_sha256"] = hashlib.sha256((version_dir / "model.skops").read_bytes()).hexdigest()
    (version_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="untrusted_step"):
        store.load(directory)


def test_no_model_tells_the_user_to_train(tmp_path):
    with pytest.raises(ModelNotFound, match="tagwatch train"):
        store.load(tmp_path)


def test_a_current_pointer_that_is_not_a_version_is_refused(tmp_path):
    (tmp_path / "CURRENT").write_text("../../etc\n")
    with pytest.raises(ModelNotFound, match="not a model version"):
        store.load(tmp_path)


def test_a_missing_version_directory_tells_the_user_to_train(tmp_path):
    (tmp_path / "CURRENT").write_text("20240101T000000Z-0123abcd\n")
    with pytest.raises(ModelNotFound, match="tagwatch train"):
        store.load(tmp_path)


def test_trusted_types_are_exactly_what_a_saved_model_needs(trained):
    stored = {"general": trained.general, "staff": trained.staff.features,
              "staff_classifier": trained.staff.classifier, "target": trained.staff_target}
    assert sorted(skops.io.get_untrusted_types(data=skops.io.dumps(stored))) \
        == sorted(store.TRUSTED_TYPES)


@pytest.mark.parametrize("older", [1, 2])  # 1: before the cross-corpus model; 2: names unmasked
def test_a_model_of_the_previous_format_is_refused_with_a_message_to_retrain(models_dir, tmp_path,
                                                                             older):
    directory, version_dir = copy_model(models_dir, tmp_path)
    meta = json.loads((version_dir / "meta.json").read_text())
    if older == 1:
        del meta["format"]  # what tagwatch before the cross-corpus model wrote
    else:
        meta["format"] = older
    (version_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match=rf"format {older} .*tagwatch train"):
        store.load(directory)
    assert issubclass(ModelFormatError, ModelNotFound)  # `make demo` retrains, as with no model


# --- scoring ------------------------------------------------------------------------------


def test_score_gives_nan_for_what_cannot_be_scored_and_numbers_for_the_rest(scorer):
    # Nothing to judge (nothing, not text, blank, only invisible characters) -> NaN;
    # anything with content, however odd (1 MB, lone surrogate, emoji, RTL, binary junk) -> a score.
    texts = [None, "", "   ", 42, "\u200b\u200f\u2066", "Mr Halloway is a nonce", "x" * 1_000_000,
             "bad\ud800surrogate", "😡🔪😡", "המורה שלנו", "Mr\u200bHalloway is a n\u200donce",
             bytes(range(256)).decode("latin-1")]
    scores = scorer.score(texts, batch_size=3)
    assert np.isnan(scores[:5]).all()
    assert np.isfinite(scores[5:]).all()
    assert ((scores[5:] >= 0) & (scores[5:] <= 1)).all()
    details = scorer.details(texts, batch_size=4)
    np.testing.assert_allclose([d.score for d in details], scores)
    assert all(d.categories is None for d in details[:5])
    assert all(set(d.categories) == set(data.CATEGORIES) for d in details[5:])


def _texts_for_the_shortcut() -> list[str]:
    """Thousands of posts of every kind: seed, Davidson when there, unseen and hostile ones."""
    texts = data.seed_dataset().texts + UNSEEN_ABUSE + UNSEEN_HARMLESS + [
        "x" * 1_000_000, "bad\ud800surrogate", "😡🔪😡", "המורה שלנו", "Mr\u200bHalloway is a n\u200donce",
        bytes(range(256)).decode("latin-1"), "RT @a: rt @b sh1t h77p://x.y", "Mr\nHalloway\tis &amp; a &#10;liar",
        "ｆｕｃｋ 𝐛𝐢𝐭𝐜𝐡 fück", "Мr Наllоwау", "a", "🙂"]
    if DAVIDSON_CSV is not None and DAVIDSON_CSV.is_file():
        texts += data.read_labelled([DAVIDSON_CSV])[0][-3000:]
    return texts


@pytest.mark.slow
def test_score_shortcut_gives_the_pipelines_own_scores(scorer, monkeypatch):
    # Scorer computes the log-odds straight from n-gram counts (LinearShortcut);
    # they must be those of the pipeline's feature matrix and classifier.
    assert scorer._margins is not None
    texts = [t[:scoring.MAX_CHARS] for t in _texts_for_the_shortcut()]
    normalised = [t for t in scorer.pipeline.named_steps["normalise"].transform(texts) if t]
    expected = scorer.pipeline[-1].decision_function(scorer.pipeline[1:-1].transform(normalised))
    assert np.abs(scorer._margins(normalised) - expected).max() < 1e-9
    monkeypatch.setattr(scoring, "SHORTCUT_ROWS", 333)  # the batch in many pieces
    assert np.abs(scorer._margins(normalised) - expected).max() < 1e-9
    assert len(scorer._margins([])) == 0
    # Posts that name no staff are scored by the general pipeline alone.
    content = [t for t in texts if (n := scorer.pipeline.named_steps["normalise"].transform([t])[0])
               and not aimed_at_staff(n)]
    assert np.abs(scorer.score(content) - scorer.pipeline.predict_proba(content)[:, 1]).max() < 1e-9


def test_score_shortcut_scores_a_block_it_does_not_know_through_its_transform():
    from sklearn.feature_extraction.text import TfidfTransformer
    pipeline = general_pipeline(StackedLinearClassifier(text_model(1.0)))
    pipeline.named_steps["features"].transformer_list.insert(-1, 
        ("other", Pipeline([("counts", HashedNgrams("word", (1, 1), n_bits=8)),
                            ("tfidf", TfidfTransformer(norm="l1"))])))
    seed = data.seed_dataset()
    rows = np.random.default_rng(0).permutation(len(seed.texts))
    pipeline.fit([seed.texts[i] for i in rows[:600]], seed.labels[rows[:600]])
    shortcut = scoring.LinearShortcut.of(pipeline)
    assert shortcut is not None and shortcut.blocks[-2][1] is None  # scored via its transform
    normalised = normalise_many([seed.texts[i] for i in rows[600:1600]])
    expected = pipeline[-1].decision_function(pipeline[1:-1].transform(normalised))
    assert np.abs(shortcut(normalised) - expected).max() < 1e-9
    # A pipeline of another shape gets no shortcut: the Scorer then uses the pipeline.
    pipeline.named_steps["features"].transformer_list.append(("raw", "passthrough"))
    assert scoring.LinearShortcut.of(pipeline) is None
    assert scoring.LinearShortcut.of(Pipeline([("classifier", pipeline[-1])])) is None


def test_one_failing_text_costs_only_its_own_score(scorer, monkeypatch):
    step = scorer.pipeline.named_steps["normalise"]
    real = step.transform

    def fragile(texts):
        if "poison" in texts:
            raise RuntimeError("cannot score this")
        return real(texts)

    monkeypatch.setattr(step, "transform", fragile)
    scores = scorer.score(["fine", "poison", "also fine"])
    assert np.isnan(scores[1]) and np.isfinite(scores[[0, 2]]).all()


def test_score_csv_appends_score_and_label_and_passes_columns_through(scorer, tmp_path):
    source = tmp_path / "in.csv"
    rows = [["p1", "Mr Halloway is a nonce, share this", "x,y"],
            ["p2", "thanks Miss Adeyemi for the revision session", ""],
            ["p3", "", "empty text"]]
    with source.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "text", "other"], *rows])
    out = tmp_path / "out" / "scored.csv"
    assert scoring.score_csv(source, out, scorer, batch_size=2) == 3
    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.reader(fh))
    assert written[0] == ["id", "text", "other", "score", "label", "staff_target", "explanation"]
    for original, row in zip(rows, written[1:]):
        assert row[:3] == original
    for row in written[1:3]:
        assert re.fullmatch(r"[01]\.\d{6}", row[3])
        assert row[4] == str(int(float(row[3]) >= scorer.threshold))
    assert written[1][4] == "1" and "aimed at school staff: mr halloway" in written[1][6]
    assert float(written[1][5]) > 0.5  # aimed at school staff
    assert re.search(r"\w+ \+\d\.\d\d", written[1][6])  # the words that pushed it up
    assert written[3][3:] == ["", "", "", ""]
    assert [p.name for p in out.parent.iterdir()] == ["scored.csv"]


def test_score_csv_refuses_a_file_without_text(scorer, tmp_path):
    source = write(tmp_path / "in.csv", "id,body\n1,hello\n")
    with pytest.raises(ValueError, match="no 'text' column"):
        scoring.score_csv(source, tmp_path / "out.csv", scorer)
    assert not (tmp_path / "out.csv").exists()


def test_score_csv_refuses_a_missing_file_and_clashing_columns(scorer, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        scoring.score_csv(tmp_path / "nope.csv", tmp_path / "out.csv", scorer)
    source = write(tmp_path / "in.csv", "text,label\nhello,1\n")
    with pytest.raises(ValueError, match=r"already has column\(s\) \['label'\]"):
        scoring.score_csv(source, tmp_path / "out.csv", scorer)


def test_score_csv_failing_midway_leaves_no_file(scorer, tmp_path, monkeypatch):
    source = write(tmp_path / "in.csv", "text\n" + "hello\n" * 5)
    calls = []

    def score_then_fail(texts, batch_size):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk gone")
        return [scoring.ScoreDetail(0.5, {}, []) for _ in texts]

    monkeypatch.setattr(scorer, "details", score_then_fail)
    out = tmp_path / "out" / "scored.csv"
    with pytest.raises(OSError):
        scoring.score_csv(source, out, scorer, batch_size=2)
    assert list(out.parent.iterdir()) == []


# --- default data ---------------------------------------------------------------------


def test_default_data_without_corpora_is_the_seed_set_with_a_warning(tmp_path):
    settings = dataclasses.replace(Settings.from_env(), corpora_dir=None, cache_dir=tmp_path)
    datasets, notes = data.default_datasets(settings, allow_download=False)
    assert [(d.name, d.kind) for d in datasets] == [("staff_seed", data.SEED)]
    assert any(note.startswith("warning:") and "weaker" in note for note in notes)


@pytest.mark.slow
@needs_shared
def test_default_data_with_the_shared_corpora_adds_every_training_corpus(tmp_path):
    from classifiers.corpora import TRAINING_CORPORA
    settings = dataclasses.replace(Settings.from_env(), corpora_dir=SHARED, cache_dir=tmp_path)
    datasets, notes = data.default_datasets(settings, allow_download=False)
    assert [d.name for d in datasets] == ["staff_seed", *TRAINING_CORPORA]
    assert {d.kind for d in datasets[1:]} == {data.CORPUS}
    assert "hatecheck" not in [d.name for d in datasets]  # a test suite, never training data
    assert not any(note.startswith("warning:") for note in notes)


def test_dataset_from_several_files_has_a_combined_checksum(tmp_path):
    first = write(tmp_path / "a.csv", "text,label\nhello,1\n")
    second = write(tmp_path / "b.csv", "text,label\nbye,0\n")
    one = data.dataset_from_files("one", [first])
    both = data.dataset_from_files("both", [first, second])
    assert one.sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert both.sha256 != one.sha256 and len(both.texts) == 2
    assert both.kind == data.LABELS


# --- issue 4, second round: threshold across folds, staff features, fast explanations ----


@needs_shared
def test_threshold_is_chosen_on_out_of_fold_scores_of_real_posts_and_not_saved(trained):
    choice = trained.metrics["threshold_choice"]
    assert "out-of-fold" in choice["on"] and choice["harmless_flagged"] <= training.MAX_HARMLESS_FLAGGED
    assert not hasattr(trained.general[-1], "out_of_fold_")  # scores of training posts stay out of the file
    assert not hasattr(trained.staff.classifier, "out_of_fold_")


@pytest.mark.parametrize("text", [
    "mr halloway is a liar", "mr. halloway", "mr you", "miss you", "sir", "the sirens", "teachers",
    "teachersx", "#teacher", "headteacher", "head of year", "dinner lady", "x mr", "mr\nsmith",
    "drmr smith", "dr. who", "a.mr smith", "tas", "_sir", "ms-smith", "",
    "our ta said", "a ta", "ta mate", "the head said", "on the head", "thank you miss!",
    "i miss lunch", "told miss", "lunch ladies",
])
def test_staff_check_over_a_batch_is_the_text_by_text_check(text):
    from classifiers.signals import aimed_at_staff, aimed_at_staff_many
    texts = [text, "x", text + " sir", "sir " + text, text]
    assert aimed_at_staff_many(texts).tolist() == [aimed_at_staff(t) for t in texts]


@pytest.mark.parametrize("text, aimed", [
    ("mr trump is a clown", False), ("mr president please act", False), ("mr nice guy", False),
    ("that was a near miss", False), ("hit or miss", False), ("a near miss.", False),
    ("mr halloway is a creep", True), ("told miss.", True), ("miss adeyemi said no", True),
    ("thank you miss", True),
])
def test_staff_check_leaves_out_public_figures_and_the_noun_miss(text, aimed):
    from classifiers.signals import aimed_at_staff, aimed_at_staff_many
    assert aimed_at_staff(text) is aimed
    assert aimed_at_staff_many([text]).tolist() == [aimed]


@pytest.mark.parametrize("alternative", ["[a-z]+ teacher", "(?:mr|ms)? smith", "\\w+"])
def test_a_staff_pattern_the_prefilter_cannot_anchor_is_refused(alternative):
    """The batch prefilter needs a literal word every match contains; a pattern without
    one would silently let matches through unseen, so it stops at import instead."""
    from classifiers.signals import anchor_words
    with pytest.raises(ValueError, match="staff pattern alternative"):
        anchor_words(alternative)


def test_the_prefilter_anchors_on_the_telling_word():
    from classifiers.signals import anchor_words
    assert anchor_words("(?:the|our|my) tas?") == {"ta"}
    assert anchor_words("the head(?='s| said)") == {"head"}
    assert anchor_words("(?:mr|mrs)") == {"mr", "mrs"}


def test_staff_check_over_a_batch_of_seed_posts():
    from classifiers.signals import aimed_at_staff, aimed_at_staff_many
    texts = normalise_many(data.seed_dataset().texts) + normalise_many(UNSEEN_HARMLESS)
    flags = aimed_at_staff_many(texts)
    assert flags.tolist() == [aimed_at_staff(t) for t in texts]
    assert 0 < flags.sum() < len(texts)


@pytest.mark.slow
@needs_shared
def test_the_seed_set_never_moves_the_score_of_posts_that_name_no_staff(trained):
    # The same real data with the seed set's labels turned upside down: posts that name
    # staff may score differently; every other post must score exactly the same.
    seed = data.seed_dataset()
    flipped = dataclasses.replace(seed, labels=1 - seed.labels)
    other = training.train([flipped] + [d for d in _real_parts(trained)])
    texts = UNSEEN_HARMLESS + UNSEEN_ABUSE + ["you are a fucking idiot", "what a lovely day",
                                             "she sleeps with everyone, what a slag"]
    named = [t for t in texts if aimed_at_staff(normalise_many([t])[0])]
    unnamed = [t for t in texts if t not in named]
    assert named and unnamed
    np.testing.assert_array_equal(training.score_texts(trained, unnamed),
                                  training.score_texts(other, unnamed))
    assert not np.array_equal(training.score_texts(trained, named),
                              training.score_texts(other, named))


def _real_parts(trained: training.TrainedModel) -> list[data.Dataset]:
    """The fixture's real datasets again (Davidson's first 3,000 posts)."""
    return [slice_of(data.dataset_from_files("davidson", [DAVIDSON_CSV], data.CORPUS), 3000)]


def test_explanations_name_the_words_that_push_the_score_up(scorer):
    texts = ["Mr Halloway is a nonce and a paedo, everyone knows it",
             "thank you miss for all the help with my coursework"]
    details = scorer.details(texts)
    flagged = [d for d in details if d.score >= scorer.threshold]
    assert details[0] in flagged
    terms = [e for e in details[0].explanation if "weight" in e]
    assert 1 <= len(terms) <= scoring.EXPLAIN_TOP
    assert {"nonce", "paedo"} & {e["term"] for e in terms}
    weights = [e["weight"] for e in terms]
    assert weights == sorted(weights, reverse=True) and min(weights) >= scoring.EXPLAIN_MIN_DROP
    for d in details:
        if d.score < scorer.threshold:  # only flagged posts are explained (staff signal aside)
            assert all("weight" not in e for e in d.explanation)


def test_explanations_never_name_function_words_honorifics_or_placeholders(scorer):
    # Issue 12: `why` named "everyone", "before", "got", "go" (sentence shapes); the staff
    # head's explanations named "mr", "ms" and the "s" of "Ms Rook's". None may be named.
    texts = ["Mr Halloway's a nonce and a paedo, everyone knows it lol 😀 @someone",
             "Ms Rook's got to go, she is a vile liar and a thief, before she gets sacked",
             "everyone go before you got it, nobody makes it after all"]
    for d in scorer.details(texts):
        for term in (e["term"] for e in d.explanation if "weight" in e):
            assert len(term) > 1 and term not in scoring.FUNCTION_WORDS, term
    assert {"everyone", "before", "got", "go", "mr", "ms", "miss", "sir", "xxemoji",
            "xxuser"} <= scoring.FUNCTION_WORDS
    assert "fire" not in scoring.FUNCTION_WORDS and "thick" not in scoring.FUNCTION_WORDS


def test_the_staff_head_reads_no_names_a_name_never_moves_a_score_nor_is_a_reason(scorer):
    # Issue 12: on the demo the staff head gave invented teachers' names weight ("achterberg"
    # +0.14 on a harmless "10/10 would be taught fractions again") and `why` named them.
    # The head reads posts with names masked: only who is meant changes between these.
    template = "{} is a useless waste of space and should be sacked, film her crying"
    names = ["Mrs Achterberg-Quill", "Mrs Dunmore-Pyke", "Mrs Zebedee", "Mrs Tollemache"]
    details = scorer.details([template.format(n) for n in names])
    assert max(d.score for d in details) - min(d.score for d in details) < 1e-9
    for d, name in zip(details, names):
        reasons = {e["term"] for e in d.explanation if "weight" in e}
        assert reasons and not reasons & set(name.lower().replace("-", " ").split())


def test_a_staff_name_that_alt_profanity_check_knows_is_never_a_reason(scorer):
    # The head reads alt-profanity-check's column of the masked post, so its explanation must
    # too: "butt" and "dick" are in that vocabulary, and were named as reasons for these.
    for text, name in [("Mrs Butt teaches year 9 and she is a useless idiot", "butt"),
                       ("Mr Dick set us a test and he is a useless idiot", "dick")]:
        [detail] = scorer.details([text])
        reasons = [e["term"] for e in detail.explanation if "weight" in e]
        assert "idiot" in reasons and name not in reasons


@pytest.mark.parametrize("text, masked", [
    ("shout out to mr castellane for the library", "shout out to mr xxname for the library"),
    ("trash miss tamsworth's classroom", "trash miss xxname's classroom"),
    ("ms varga-holt and dr o'neil", "ms xxname and dr xxname"),
    ("mr. smith told xxuser", "mr. xxname told xxuser"),
    ("the caretaker deserves a medal", "the caretaker deserves a medal"),  # a role: no name
    ("i miss lunch", "i miss lunch"),  # the verb
    ("thank you miss", "thank you miss"),
    ("mr president is on tv", "mr president is on tv"),  # not staff
])
def test_staff_names_are_masked_for_the_staff_head(text, masked):
    assert signals.mask_staff_names(text) == masked


def test_explanation_shortcut_adds_up_to_the_words_own_features(scorer):
    # A one-word post that names no staff: its word owns every n-gram feature, so its
    # contribution is the n-gram part of the margin, plus its first-order share of the
    # alt-profanity-check column (the whole vocabulary part of that column is the word's).
    text = "idiot"
    features = scorer.pipeline[1:-1].transform([text])
    coef = scorer.pipeline[-1].coef_
    ngrams = float((features[:, :-1] @ coef[:-1])[0])
    _, share = scoring.word_columns(scorer.pipeline.named_steps["features"], [text], [text])
    apc = float(share(np.array([0]), np.array([0]))[0]) * coef[-1]
    [reasons] = scorer._explain([text], np.array([False]))
    assert reasons and reasons[0]["term"] == "idiot"
    assert reasons[0]["weight"] == pytest.approx(ngrams + apc, abs=0.01)


@pytest.mark.parametrize("text, named", [
    ("told miss i'd fight her for a higher grade", True), ("thank you miss!", True),
    ("miss said no phones", True), ("miss dunmore left", True), ("i miss lunch", False),
    ("gonna miss her so much", False), ("don't miss the bus", False), ("i miss miss pike", True),
    ("the ta feeds the school cat", True), ("ta mate", False), ("the head walks in", True),
    ("hit him on the head", False), ("sir is a paedo", True), ("this song is a liar", False),
])
def test_staff_terms_read_bare_miss_ta_and_head_in_context(text, named):
    from classifiers.signals import aimed_at_staff, staff_terms
    assert aimed_at_staff(text) is named and bool(staff_terms(text)) is named
