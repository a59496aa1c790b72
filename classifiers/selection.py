"""Selection: leave one corpus out, the yardstick every modelling choice is judged by.

For each real corpus in turn, the training recipe (`classifiers.training.train`)
is run on every other dataset and the left-out corpus is scored: a source the
model never saw, as the posts tagwatch watches are. Beside it, on the same
rows, alt-profanity-check 1.9.1 at its own 0.5. The staff sets
(classifiers/eval) and hatecheck (a templated diagnostic suite) are scored by
the model trained on every corpus. Templates never decide alone.

The rounds fit the general model only (`heads=False`): the staff head applies
to posts that name school staff (under 2% of any corpus) and is measured on
the staff sets instead.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from classifiers.data import CORPUS, SEED, Dataset
from classifiers.scoring import Scorer
from classifiers.training import metrics, train

APC_THRESHOLD = 0.5
TOP_WORDS = 20


@dataclass
class Round:
    """One left-out corpus: our model and alt-profanity-check on the same rows."""

    corpus: str
    ours: dict
    apc: dict
    threshold: float
    stacking: dict  # the weights of our text model and alt-profanity-check in this round


@dataclass
class CrossCorpusReport:
    rounds: list[Round]
    checks: dict = field(default_factory=dict)  # staff sets, hatecheck: name -> ours / apc
    why_words: list[tuple[str, int]] = field(default_factory=list)  # most often named by `why`

    def mean(self, who: str, key: str) -> float | None:
        values = [getattr(r, who)[key] for r in self.rounds if getattr(r, who).get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    def as_dict(self) -> dict:
        return {"rounds": [r.__dict__ for r in self.rounds], "checks": self.checks,
                "why_words": self.why_words,
                "mean": {who: {k: self.mean(who, k) for k in
                               ("roc_auc", "pr_auc", "harmless_flagged", "recall")}
                         for who in ("ours", "apc")}}


def apc_probabilities(texts: list[str]) -> np.ndarray:
    """alt-profanity-check's own predict_prob on the raw texts (the anchor, as users run it)."""
    from profanity_check import predict_prob

    return np.asarray(predict_prob(texts), dtype=float) if texts else np.zeros(0)


def cross_corpus(datasets: Sequence[Dataset], *, checks: Sequence[Dataset] = (),
                 only: Sequence[str] | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> CrossCorpusReport:
    """Leave each real corpus of `datasets` out in turn (or those in `only`); then score
    `checks` (staff sets, hatecheck) with a model trained on every dataset."""
    corpora = [d for d in datasets if d.kind == CORPUS and (only is None or d.name in only)]
    if len(corpora) < 1 or sum(d.kind == CORPUS for d in datasets) < 2:
        raise ValueError("leaving one corpus out needs at least two real corpora; set "
                         "TAGWATCH_CORPORA_DIR to the corpora folder")
    rounds, why = [], Counter()
    for left in corpora:
        model = train([d for d in datasets if d is not left and d.kind != SEED], hold_out=False,
                      heads=False)
        scorer = Scorer.of(model)
        details = scorer.details(left.texts)
        scores = np.array([d.score for d in details])
        apc = apc_probabilities(left.texts)
        rounds.append(Round(left.name, metrics(left.labels, np.nan_to_num(scores), model.threshold),
                            metrics(left.labels, apc, APC_THRESHOLD), round(model.threshold, 4),
                            model.metrics["stacking"]))
        why.update(e["term"] for d in details for e in (d.explanation or []) if "weight" in e)
        progress(format_round(rounds[-1]))
    report = CrossCorpusReport(rounds, why_words=why.most_common(TOP_WORDS))
    if checks:
        scorer = Scorer.of(train(datasets, hold_out=False))
        for check in checks:
            report.checks[check.name] = {
                "ours": metrics(check.labels, np.nan_to_num(scorer.score(check.texts)),
                                scorer.threshold),
                "apc": metrics(check.labels, apc_probabilities(check.texts), APC_THRESHOLD)}
    return report


HEADER = (f"{'left-out corpus':18} {'posts':>6} {'abusive':>7} | {'ROC-AUC':>13} | {'PR-AUC':>13} | "
          f"{'harmless flagged':>16} | {'recall':>13}")
SUBHEADER = f"{'':18} {'':6} {'':7} | {'ours':>6} {'APC':>6} | {'ours':>6} {'APC':>6} | " \
            f"{'ours':>7} {'APC':>8} | {'ours':>6} {'APC':>6}"


def _cell(value) -> str:
    return "   n/a" if value is None else f"{value:6.3f}"


def format_round(r: Round) -> str:
    o, a = r.ours, r.apc
    return (f"{r.corpus:18} {o['n']:6} {o['positives']:7} | {_cell(o['roc_auc'])} "
            f"{_cell(a['roc_auc'])} | {_cell(o['pr_auc'])} {_cell(a['pr_auc'])} | "
            f"{_cell(o['harmless_flagged'])}  {_cell(a['harmless_flagged'])}  | "
            f"{_cell(o['recall'])} {_cell(a['recall'])}")


def format_report(report: CrossCorpusReport) -> list[str]:
    """The table `tagwatch evaluate --cross-corpus` prints (docs/classifier.md keeps the latest)."""
    lines = [HEADER, SUBHEADER] + [format_round(r) for r in report.rounds]
    mean = {who: {k: report.mean(who, k) for k in ("roc_auc", "pr_auc", "harmless_flagged",
                                                   "recall")} for who in ("ours", "apc")}
    lines.append(f"{'mean':18} {'':6} {'':7} | {_cell(mean['ours']['roc_auc'])} "
                 f"{_cell(mean['apc']['roc_auc'])} | {_cell(mean['ours']['pr_auc'])} "
                 f"{_cell(mean['apc']['pr_auc'])} | {_cell(mean['ours']['harmless_flagged'])}  "
                 f"{_cell(mean['apc']['harmless_flagged'])}  | {_cell(mean['ours']['recall'])} "
                 f"{_cell(mean['apc']['recall'])}")
    lines.append("ours at its threshold (chosen without the left-out corpus); "
                 f"alt-profanity-check 1.9.1 at {APC_THRESHOLD}")
    for name, both in report.checks.items():
        o, a = both["ours"], both["apc"]
        lines.append(f"{name}: {o['n']} posts, {o['positives']} abusive; ROC-AUC ours "
                     f"{_cell(o['roc_auc']).strip()} APC {_cell(a['roc_auc']).strip()}; recall "
                     f"{_cell(o['recall']).strip()} / {_cell(a['recall']).strip()}; harmless flagged "
                     f"{_cell(o['harmless_flagged']).strip()} / "
                     f"{_cell(a['harmless_flagged']).strip()}")
    if report.why_words:
        lines.append("words `why` names most often on the left-out corpora: "
                     + ", ".join(f"{w} ({n})" for w, n in report.why_words))
    return lines
