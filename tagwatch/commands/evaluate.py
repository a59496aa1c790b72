"""`tagwatch evaluate`: how good is the model?

--input FILE.csv: the model in use on labelled posts (metrics, reliability, PR curve).
--cross-corpus: the training recipe judged by leaving each real corpus out in turn,
beside alt-profanity-check on the same rows (classifiers.selection).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common],
                       help="measure the model on labelled posts, or the training recipe "
                            "across corpora (--cross-corpus)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", action="append", metavar="FILE.csv",
                      help="labelled CSV or NDJSON (text,label); repeatable")
    what.add_argument("--cross-corpus", action="store_true",
                      help="train on all real corpora but one, test on the one left out, for each "
                           "in turn (slow: one training per corpus), beside alt-profanity-check")
    p.add_argument("--corpus", action="append", metavar="NAME",
                   help="with --cross-corpus: leave out only these corpora (repeatable)")
    p.add_argument("--model", metavar="VERSION", help="default: the model in use")
    p.add_argument("--plot", metavar="FILE.png",
                   help="where to write the PR curve (default: $TAGWATCH_DATA_DIR/reports/)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    if args.cross_corpus:
        return cmd_cross_corpus(args)
    from classifiers import evaluation
    from classifiers.data import read_labelled
    from classifiers.store import load
    from tagwatch.console import UserError, out, settings_from

    settings = settings_from(args)
    texts, labels = read_labelled(args.input)
    if len(set(labels.tolist())) < 2:
        raise UserError(f"{', '.join(args.input)}: need both abusive (1) and harmless (0) posts "
                        f"to evaluate; got {len(labels)} post(s) of one label")
    _warn_overlap(settings, texts, args.input)
    scorer = load(settings.models_dir, args.model)
    result = evaluation.evaluate(scorer, texts, labels)
    out(f"model {scorer.version} on {', '.join(args.input)}: {result['n']} posts, "
        f"{result['positives']} abusive" + (f", {result['unscorable']} could not be scored "
                                            "(left out)" if result["unscorable"] else ""))
    out(f"ROC-AUC   {result['roc_auc']:.4f}")
    out(f"PR-AUC    {result['pr_auc']:.4f}")
    out(f"Brier     {result['brier']:.4f}")
    out(f"at the operating threshold {result['threshold']:.3f}: precision {result['precision']:.4f}, "
        f"recall {result['recall']:.4f}, F1 {result['f1']:.4f}, harmless flagged "
        f"{result['harmless_flagged']:.4f}")
    out("reliability (calibrated: mean score close to abusive fraction in each band):")
    out(f"  {'band':9} {'posts':>6} {'mean score':>10} {'abusive':>8}")
    for row in result["reliability"]:
        mean = "" if row["mean_score"] is None else f"{row['mean_score']:.3f}"
        frac = "" if row["abusive_fraction"] is None else f"{row['abusive_fraction']:.3f}"
        out(f"  {row['band']:9} {row['n']:6} {mean:>10} {frac:>8}")
    plot = Path(args.plot) if args.plot else (
        settings.data_dir / "reports" / f"pr-curve-{scorer.version}-{Path(args.input[0]).stem}.png")
    evaluation.plot_pr_curve(result["_labels"], result["_scores"], scorer.threshold, plot,
                             f"{Path(args.input[0]).name}: model {scorer.version}")
    out(f"precision-recall curve: {plot}")
    return 0


def cmd_cross_corpus(args) -> int:
    from classifiers import data, selection
    from classifiers.corpora import DIAGNOSTIC_SUITES, CorpusError, load_diagnostic_suite
    from tagwatch.console import UserError, err, out, settings_from

    settings = settings_from(args)
    datasets, notes = data.default_datasets(settings, allow_download=False)
    for note in notes:
        err(note)
    known = [d.name for d in datasets if d.kind == data.CORPUS]
    unknown = sorted(set(args.corpus or []) - set(known))
    if unknown:
        raise UserError(f"not a real corpus present here: {', '.join(unknown)} "
                        f"(present: {', '.join(known) or 'none'})")
    checks = [data.staff_set("staff_select"), data.staff_set("staff_eval")]
    for name in DIAGNOSTIC_SUITES:
        try:
            suite = load_diagnostic_suite(name, settings.corpora_dir)
        except CorpusError as exc:
            err(f"warning: diagnostic suite {name} left out: {exc}")
            continue
        checks.append(data.Dataset(name, suite.source, "", suite.texts, suite.labels, data.SEED))
    out(f"leaving out each of {len(args.corpus or known)} real corpora in turn "
         f"(one training each)")
    out(selection.HEADER)
    out(selection.SUBHEADER)
    try:
        report = selection.cross_corpus(datasets, checks=checks, only=args.corpus, progress=out)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for line in selection.format_report(report)[2 + len(report.rounds):]:
        out(line)
    path = settings.data_dir / "reports" / \
        f"cross-corpus-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    out(f"report: {path}")
    return 0


def _warn_overlap(settings, texts: list[str], files: list[str]) -> None:
    """Warn when test posts are among the warehouse's labels: the model learnt them."""
    from classifiers.corpora import text_key
    from tagwatch.console import err
    from warehouse.db import session

    if not settings.db_path.exists():
        return
    with session(settings.db_path, read_only=True) as con:
        learnt = {text_key(t) for (t,) in con.execute("SELECT text FROM labels").fetchall()}
    shared = sum(1 for t in texts if text_key(t) in learnt)
    if shared:
        err(f"warning: {shared} of the {len(texts)} posts in {', '.join(files)} are among the labels "
            "imported or decided in review, which `tagwatch train` learns from: the figures below "
            "flatter the model. Evaluate on posts that were never imported.")
