"""`tagwatch models shadow VERSION`, `models compare`, `models shadow --stop` (issue 17 item 3):
a candidate from the registry scores new posts beside the model in use, never changing the
flagged list or the queue, and is measured on what reviewers decide meanwhile.

The models are real: the session's model trained on the seed set is the one in use; the
candidates are the same trained model at another operating threshold (a second version in
the registry, no second training), chosen from the model's own scores of these posts so that
the candidate flags one post more (or one fewer) than the model in use.
"""
from __future__ import annotations

import dataclasses
import html
from datetime import timedelta

import duckdb
import pytest

from casekit import load
from classifiers import registry, store
from classifiers.scoring import Scorer
from fakes.mastodon import MastodonReplayServer, make_status
from tagwatch import cli, pipeline
from tagwatch.commands import runs
from warehouse import queries
from warehouse.db import session

# Invented staff and schools. The third post is the one the candidate flags beside the model
# in use (lower threshold) or the one it drops (higher threshold), picked by score below.
TEXTS = [
    "Mr Quillfeather at Larchmont High is a disgusting pervert, get him sacked, share this",
    "Mrs Ambleside is a stupid ugly cow, someone should slap her",
    "@tansy_brook99 Ms Rookwood gave us so much homework, kind of annoying \x1b[31m",
    "Ms Rookwood ran a lovely revision session at Saltridge Academy, thank you",
    "school trip photos from Corvale School are up on the website",
    "Mr Brindle ran the science club again this week",
]


def cli_run(capsys, *args) -> tuple[int, str, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(capsys, *args) -> str:
    status, out, err = cli_run(capsys, *args)
    assert status == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, (out, err)
    return err


@pytest.fixture
def scores(trained_model):
    """The model in use's score of each of TEXTS."""
    return [float(s) for s in Scorer.of(trained_model).score(TEXTS)]


def registered(settings, monkeypatch, tmp_path, trained_model, threshold: float):
    """A models directory with the model in use (promoted) and a candidate at `threshold`,
    both in the warehouse's registry; the settings and environment point at it."""
    models = tmp_path / "models"
    candidate = dataclasses.replace(trained_model, threshold=threshold,
                                    trained_at=trained_model.trained_at + timedelta(minutes=1))
    with session(settings.db_path) as con:
        for model in (trained_model, candidate):
            store.save(model, models, make_current=False)
            registry.register(con, model, models)
        registry.promote(con, trained_model.version, models)
    monkeypatch.setenv("TAGWATCH_MODELS_DIR", str(models))
    return dataclasses.replace(settings, models_dir=models), candidate.version


def statuses(first_id: int) -> list[dict]:
    return [make_status(first_id + n, content=f"<p>{html.escape(text)}</p>", username=f"author{n}")
            for n, text in enumerate(TEXTS)]


def queue_and_flagged(settings) -> tuple[list, list]:
    """What analysts see: the cases (by post) and the flagged list."""
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        cases = con.execute("SELECT post_id, origin FROM cases ORDER BY post_id").fetchall()
        flagged = [(r["post_id"], r["score"], r["model_version"]) for r in queries.flagged(con)]
    return cases, flagged


def case_of(settings, post_id: str) -> str:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return str(con.execute("SELECT case_id FROM cases WHERE post_id = ?", [post_id]).fetchone()[0])


@pytest.mark.slow
def test_shadow_start_compare_stop_on_a_real_model(settings, monkeypatch, tmp_path, trained_model,
                                                  scores, capsys):
    threshold = trained_model.threshold
    assert scores[0] >= threshold and scores[1] >= threshold and scores[2] < threshold, scores
    assert max(s for s in scores[3:]) < scores[2], scores  # the third is the best of the rest
    settings, candidate = registered(settings, monkeypatch, tmp_path, trained_model,
                                     threshold=scores[2] - 1e-6)
    control = dataclasses.replace(settings, db_path=tmp_path / "control.duckdb")

    # Clear one-line errors before anything runs.
    assert "no shadow model is running" in one_line_error(capsys, "models", "compare")
    assert "no shadow model is running" in one_line_error(capsys, "models", "shadow", "--stop")
    assert "no model '20990101T000000Z-00000000' in the registry" in one_line_error(
        capsys, "models", "shadow", "20990101T000000Z-00000000")
    assert "is the model in use already" in one_line_error(
        capsys, "models", "shadow", trained_model.version)

    status, out, _ = cli_run(capsys, "models", "shadow", candidate, "--actor", "ana")
    assert status == 0 and f"shadow model {candidate}" in out and "tagwatch models compare" in out
    assert "stop it first" in one_line_error(capsys, "models", "shadow", candidate)
    assert "no reviewer decisions since the shadow" in one_line_error(capsys, "models", "compare")
    assert f"shadow model {candidate} running since" in cli_run(capsys, "models", "shadow")[1]
    listing = cli_run(capsys, "models", "list", "--format", "csv")[1].splitlines()
    assert [line.split(",")[:2] for line in listing[1:]] == [["shadow", candidate],
                                                             ["*", trained_model.version]]

    # The same posts into this warehouse (shadow running) and a control one (no shadow).
    with MastodonReplayServer([], max_lifetime=60) as server:
        posts = load(settings, server, statuses(100))
    with MastodonReplayServer([], max_lifetime=60) as server:
        load(control, server, statuses(100), run_id="control")
    report = pipeline.score_new(settings)
    assert report["shadow_model"] == candidate and report["shadow_scored"] == len(TEXTS)
    assert pipeline.score_new(control)["shadow_scored"] == 0
    assert queue_and_flagged(settings) == queue_and_flagged(control)  # the shadow changed nothing
    cases, flagged = queue_and_flagged(settings)
    ids = [p["post_id"] for p in posts]
    assert [c[0] for c in cases] == sorted(ids[:2]) and {f[0] for f in flagged} == set(ids[:2])
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        shadowed = dict(con.execute("SELECT post_id, label FROM shadow_scores WHERE model_version = ?",
                                    [candidate]).fetchall())
    assert shadowed == {i: n < 3 for n, i in enumerate(ids)}

    # Reviewers: confirm the first, dismiss the second; a member reports the third, confirmed.
    cli_run(capsys, "case", "review", case_of(settings, ids[0]), "--decision", "confirm",
            "--category", "allegation", "--target-role", "teacher", "--actor", "ana")
    cli_run(capsys, "case", "review", case_of(settings, ids[1]), "--decision", "dismiss", "--actor", "ana")
    status, out, err = cli_run(capsys, "case", "open", "--platform", "mastodon", "--post-id", ids[2])
    assert status == 0, err
    third = out.strip()
    cli_run(capsys, "case", "review", third, "--decision", "confirm", "--category", "insult",
            "--target-role", "teacher", "--actor", "ana")

    status, out, err = cli_run(capsys, "models", "compare")
    assert status == 0, err
    lines = out.splitlines()
    assert "posts reviewers decided since then: 3" in out
    in_use = next(line for line in lines if line.startswith("in use"))
    shadow_row = next(line for line in lines if line.startswith("candidate "))
    assert "0.50 (1/2)" in in_use and in_use.count("(1/2)") == 2          # precision, recall
    assert "0.67 (2/3)" in shadow_row and "1.00 (2/2)" in shadow_row
    assert "would ADD to the flagged list: 1 post(s)" in out
    assert "would DROP from the flagged list: 0 post(s)" in out
    added = next(line for line in lines if line.startswith(f"  case {third} "))
    assert "mastodon:102 " in added and "confirmed" in added and "Rookwood" not in added
    assert "[handle] [name] gave us so much homework, kind of annoying" in added
    assert "tansy" not in out and "author2" not in out and "\x1b" not in out
    assert f"tagwatch models promote {candidate}" in out

    status, out, _ = cli_run(capsys, "models", "shadow", "--stop", "--actor", "ana")
    assert status == 0 and f"stopped the shadow model {candidate}" in out
    assert "no shadow model is running" in one_line_error(capsys, "models", "compare")
    with MastodonReplayServer([], max_lifetime=60) as server:
        load(settings, server, statuses(200)[:1], run_id="later")
    later = pipeline.score_new(settings)
    assert later["scored"] == 1 and later["shadow_model"] is None and later["shadow_scored"] == 0


@pytest.mark.slow
def test_compare_lists_what_the_candidate_would_drop_and_promote_ends_the_shadow(
        settings, monkeypatch, tmp_path, trained_model, scores, capsys):
    # The candidate's threshold just above the second post's score: it drops that post.
    settings, candidate = registered(settings, monkeypatch, tmp_path, trained_model,
                                     threshold=min(scores[:2]) + 1e-6)
    cli_run(capsys, "models", "shadow", candidate)
    with MastodonReplayServer([], max_lifetime=60) as server:
        posts = load(settings, server, statuses(300))
    pipeline.score_new(settings)
    weaker = min((0, 1), key=lambda n: scores[n])
    post_id = posts[weaker]["post_id"]
    case = case_of(settings, post_id)
    # A dismissal undone, or reopened for a second look, is no decision (yet).
    cli_run(capsys, "case", "review", case, "--decision", "dismiss", "--actor", "ana")
    assert cli_run(capsys, "case", "undo", "--last", "--actor", "ana")[0] == 0
    assert "no reviewer decisions since the shadow" in one_line_error(capsys, "models", "compare")
    cli_run(capsys, "case", "review", case, "--decision", "dismiss", "--actor", "ana")
    cli_run(capsys, "case", "move", case, "--to", "IN_REVIEW", "--actor", "ana")
    assert "no reviewer decisions since the shadow" in one_line_error(capsys, "models", "compare")
    cli_run(capsys, "case", "review", case, "--decision", "dismiss", "--actor", "ana")

    status, out, err = cli_run(capsys, "models", "compare", "--limit", "5")
    assert status == 0, err
    assert "would DROP from the flagged list: 1 post(s)" in out
    assert f"case {case}" in out and f"mastodon:{post_id.rsplit('/', 1)[1]} " in out
    assert "dismissed" in out and "/users/" not in out
    in_use = next(line for line in out.splitlines() if line.startswith("in use"))
    shadow_row = next(line for line in out.splitlines() if line.startswith("candidate "))
    assert "0.00 (0/1)" in in_use and "- (0/0)" in shadow_row  # flagged a dismissed post; flagged none

    status, out, _ = cli_run(capsys, "models", "promote", candidate)
    assert status == 0 and "its shadow ended" in out
    assert cli_run(capsys, "models", "shadow")[1].strip() == "no shadow model is running"


@pytest.mark.slow
def test_a_shadow_model_that_cannot_be_loaded_never_stops_the_real_scoring(
        settings, monkeypatch, tmp_path, trained_model, scores, capsys):
    settings, candidate = registered(settings, monkeypatch, tmp_path, trained_model, threshold=0.01)
    assert cli_run(capsys, "models", "shadow", candidate)[0] == 0
    with (settings.models_dir / candidate / store.MODEL_FILE).open("ab") as fh:
        fh.write(b"tampered")
    with MastodonReplayServer([], max_lifetime=60) as server:
        load(settings, server, statuses(400))
    report = pipeline.score_new(settings)
    assert report["scored"] == len(TEXTS) and report["cases_opened"] == 2
    assert report["shadow_scored"] == 0 and "was not loaded" in report["note"]
    runs.print_run(pipeline.RunSummary(run_id="r1", score=report), settings)  # what `tagwatch run` says
    said = capsys.readouterr()
    assert f"shadow model {candidate}: scored 0 of them too" in said.out
    assert f"the shadow model {candidate} was not loaded" in said.err
    # Starting a shadow of a file changed since training is refused too.
    cli_run(capsys, "models", "shadow", "--stop")
    assert "checksum differs" in one_line_error(capsys, "models", "shadow", candidate)
