"""Leave one corpus out: the yardstick of every modelling choice, and `tagwatch evaluate --cross-corpus`."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from classifiers import data, selection
from tagwatch.config import Settings

SHARED = Path(os.environ["TAGWATCH_CORPORA_DIR"]) if os.environ.get("TAGWATCH_CORPORA_DIR") else None
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "strudel").is_dir(),
    reason="set TAGWATCH_CORPORA_DIR to the shared corpora (the Makefile does) to run this")
# Sentence shapes the template-trained model used to name (issue 12): "always", "makes",
# "knows", "everyone", "before", "got", "go", "another", "one", "someone", "better".
SHAPE_WORDS = {"always", "makes", "knows", "everyone", "before", "got", "go", "another", "one",
               "someone", "better", "gonna", "know", "make", "get"}


def small_corpora(names: tuple[str, ...], rows: int = 2500) -> list[data.Dataset]:
    settings = dataclasses.replace(Settings.from_env(), corpora_dir=SHARED)
    real, _ = data.real_datasets(settings)
    chosen = []
    for d in real:
        if d.name in names:
            chosen.append(dataclasses.replace(
                d, texts=d.texts[:rows], labels=d.labels[:rows],
                groups=d.groups[:rows] if d.groups else None,
                categories=d.categories[:rows] if d.categories else None))
    return chosen


@pytest.mark.slow
@needs_shared
def test_the_words_why_names_most_on_left_out_corpora_are_no_function_words():
    corpora = small_corpora(("davidson", "reddit_incivility", "convabuse", "misogyny"))
    report = selection.cross_corpus(corpora)
    assert [r.corpus for r in report.rounds] == [d.name for d in corpora]
    top = [word for word, _ in report.why_words]
    assert len(top) == selection.TOP_WORDS, top
    assert not set(top) & (ENGLISH_STOP_WORDS | SHAPE_WORDS), top
    for r in report.rounds:  # ours and the anchor, measured on the same rows
        assert r.ours["n"] == r.apc["n"] and r.ours["roc_auc"] is not None
        assert 0 <= r.ours["harmless_flagged"] <= 1


def test_leaving_a_corpus_out_needs_two_corpora():
    with pytest.raises(ValueError, match="at least two real corpora"):
        selection.cross_corpus([data.seed_dataset()])


@pytest.mark.slow
@needs_shared
def test_evaluate_cross_corpus_prints_the_table_beside_alt_profanity_check(settings, tmp_path):
    corpora = tmp_path / "corpora"
    for name in ("strudel", "foxnews"):
        shutil.copytree(SHARED / name, corpora / name)
    env = {**os.environ, **settings.to_env(), "TAGWATCH_CORPORA_DIR": str(corpora)}
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", "evaluate", "--cross-corpus"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ROC-AUC" in out and "harmless flagged" in out and "APC" in out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(("strudel ", "foxnews "))}
    assert set(rows) == {"strudel", "foxnews"}
    assert "staff_select:" in out and "staff_eval:" in out
    assert "is not available" in proc.stderr  # it says what it could not use
    report = json.loads(Path(out.split("report: ")[1].split()[0]).read_text())
    assert sorted(r["corpus"] for r in report["rounds"]) == ["foxnews", "strudel"]

    unknown = subprocess.run([sys.executable, "-m", "tagwatch.cli", "evaluate", "--cross-corpus",
                              "--corpus", "nosuch"], capture_output=True, text=True, env=env,
                             timeout=300)
    assert unknown.returncode == 1 and "not a real corpus present here: nosuch" in unknown.stderr
