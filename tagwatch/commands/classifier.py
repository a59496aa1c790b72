"""`tagwatch train` and `tagwatch score`: teach the classifier, score a CSV with it."""
from __future__ import annotations

from pathlib import Path

from tagwatch import argtypes
from tagwatch.console import out, settings_from
from tagwatch.progress import progress
from tagwatch.training import train_and_promote


def register(sub, common) -> None:
    p = sub.add_parser("train", parents=[common], help="train the classifier")
    p.add_argument("--input", action="append", metavar="FILE.csv", help="labelled CSV (text,label); repeatable")
    p.add_argument("--no-default-data", action="store_true", help="only the --input files")
    p.add_argument("--offline", action="store_true", help="never download a corpus")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", parents=[common], help="score a CSV with a text column")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--batch-size", type=argtypes.batch_size, default=5000)
    p.set_defaults(func=cmd_score)


def cmd_train(args) -> int:
    settings = settings_from(args)
    train_and_promote(settings, args.input or [], default_data=not args.no_default_data,
           allow_download=not args.offline)
    return 0


def cmd_score(args) -> int:
    from classifiers.scoring import score_csv, score_csv_header
    from classifiers.store import load

    settings = settings_from(args)
    score_csv_header(args.input)  # a file that cannot be scored is refused before a model loads
    scorer = load(settings.models_dir)
    folder = Path(args.output).parent
    created = not folder.exists()
    with progress(f"scoring {Path(args.input).name}", unit="rows") as advance:
        n = score_csv(args.input, args.output, scorer, batch_size=args.batch_size, advance=advance)
    out(f"scored {n} row(s) with model {scorer.version} -> {args.output}"
        + (f" (created the folder {folder}, which did not exist)" if created else ""))
    return 0
