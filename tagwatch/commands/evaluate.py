"""`tagwatch evaluate --input FILE.csv`: how good is the model on labelled posts?"""
from __future__ import annotations

from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common],
                       help="measure the model on labelled posts (text,label) and plot its PR curve")
    p.add_argument("--input", required=True, action="append", metavar="FILE.csv",
                   help="labelled CSV or NDJSON (text,label); repeatable")
    p.add_argument("--model", metavar="VERSION", help="default: the model in use")
    p.add_argument("--plot", metavar="FILE.png",
                   help="where to write the PR curve (default: $TAGWATCH_DATA_DIR/reports/)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from classifiers import evaluation
    from classifiers import model as m
    from tagwatch.console import UserError, out, settings_from

    settings = settings_from(args)
    texts, labels = m.read_labelled(args.input)
    if len(set(labels.tolist())) < 2:
        raise UserError(f"{', '.join(args.input)}: need both abusive (1) and harmless (0) posts "
                        f"to evaluate; got {len(labels)} post(s) of one label")
    _warn_overlap(settings, texts, args.input)
    scorer = m.load(settings.models_dir, args.model)
    result = evaluation.evaluate(scorer, texts, labels)
    out(f"model {scorer.version} on {', '.join(args.input)}: {result['n']} posts, "
        f"{result['positives']} abusive" + (f", {result['unscorable']} could not be scored "
                                            "(left out)" if result["unscorable"] else ""))
    out(f"ROC-AUC   {result['roc_auc']:.4f}")
    out(f"PR-AUC    {result['pr_auc']:.4f}")
    out(f"Brier     {result['brier']:.4f}")
    out(f"at the operating threshold {result['threshold']:.3f}: precision {result['precision']:.4f}, "
        f"recall {result['recall']:.4f}, F1 {result['f1']:.4f}")
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
