"""`tagwatch`: the one command-line face of the pipeline.

Every subcommand takes --db (else TAGWATCH_DB, else data/tagwatch.duckdb).
Exit status: 0 done, 1 the work failed (message on stderr), 2 wrong usage.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import logging
import os
import shutil
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from collectors import platforms
from common.csvout import SafeWriter
from common.private import private_umask
from tagwatch import argtypes, pipeline
from tagwatch.config import Settings
from tagwatch.errors import UserError
from tagwatch.progress import progress
from tagwatch.textout import cell
from warehouse import queries
from warehouse.db import WarehouseError, session, transaction




def _settings(args) -> Settings:
    return Settings.from_env(db_path=getattr(args, "db", None))


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- watchlist and sources ---------------------------------------------------------------

def cmd_watchlist(args) -> int:
    settings = _settings(args)
    if args.action == "add":
        from warehouse.resurfacing import synonyms_add

        words = [queries.normalise_tag(w) for w in args.synonym]  # refuse bad words before writing
        with session(settings.db_path) as con, transaction(con):
            added = []
            for tag in args.tags:
                tag = queries.watchlist_add(con, tag, args.status, args.note)
                synonyms_add(con, tag, words)
                added.append(tag)
        for tag in added:
            also = f", synonyms {', '.join('#' + w for w in words)}" if words else ""
            _out(cell(f"watching #{tag} ({args.status}{also})", 200))
    elif args.action == "remove":
        with session(settings.db_path) as con:
            for tag in args.tags:
                if not queries.watchlist_remove(con, tag):
                    raise UserError(f"#{queries.normalise_tag(tag)} is not on the watchlist")
                _out(f"removed #{queries.normalise_tag(tag)}")
    else:
        from warehouse.resurfacing import synonyms

        with session(settings.db_path) as con:
            rows = queries.watchlist(con)
            words = synonyms(con)
        for r in rows:
            r["synonyms"] = " ".join(words.get(r["tag"], []))
        _table(rows, ["tag", "status", "note", "added_at", "synonyms"], args.format)
    return 0


def cmd_sources(args) -> int:
    settings = _settings(args)
    if args.action == "add":
        _check_platform(args.platform)
        with session(settings.db_path) as con:
            url = queries.source_add(con, args.platform, args.base_url)
        _out(f"collecting {args.platform} from {url}")
    elif args.action == "remove":
        with session(settings.db_path) as con:
            if not queries.source_remove(con, args.platform, args.base_url):
                raise UserError(f"no {args.platform} source {args.base_url}")
        _out(f"removed {args.base_url}")
    else:
        with session(settings.db_path) as con:
            rows = queries.sources(con)
        _table(rows, ["platform", "base_url", "enabled", "added_at"], args.format)
    return 0


def _check_platform(platform: str) -> None:
    if platform not in platforms.PLATFORMS:
        raise UserError(f"unknown platform {platform!r}; known: {', '.join(platforms.names())}")


# --- collecting ------------------------------------------------------------------------

def cmd_collect(args) -> int:
    """Collect the given tags from one source, load and score them."""
    settings = _settings(args)
    _check_platform(args.platform)
    tags = [queries.normalise_tag(t) for t in args.tag]
    if not args.no_score:
        ensure_model(settings)
    if args.since is not None:
        from collectors.base import parse_since_date

        args.since = parse_since_date(args.since).isoformat()  # a bad date stops here, nothing written
    targets = [{"platform": args.platform, "source": args.base_url}]
    with _resumable_run(settings, ["collect", args.platform, args.base_url, tags, args.since,
                                   args.no_score]) as run_id:
        summary = pipeline.run(settings, run_id=run_id, tags=tags, targets=targets,
                               score=not args.no_score, since=args.since, progress=_collecting)
    _print_run(summary, settings)
    return 1 if summary.failures else 0


def _collecting(total: int):
    return progress("collecting", total=total, unit="tags")


@contextmanager
def _resumable_run(settings: Settings, command: list, run_id: str | None = None):
    """The run id for this command: the one an identical command was using when it was
    killed (so the rerun finishes that run: its staged tasks are not fetched again and
    collection_runs gets no second run), else a new one. Forgotten once the run ends."""
    from collectors.base import locked_state

    key = hashlib.sha256(json.dumps(command, default=str).encode()).hexdigest()[:16]
    journal = (settings.state_dir or settings.data_dir / "state") / "unfinished-runs.json"
    with locked_state(journal) as state:
        if run_id is None and state.get(key):
            run_id = state[key]
            _err(f"continuing the interrupted run {run_id}")
        run_id = run_id or pipeline.new_run_id()
        state[key] = run_id
    yield run_id
    with locked_state(journal) as state:
        state.pop(key, None)


def cmd_run(args) -> int:
    """Every enabled source x every watched tag, in this process (what the DAG does)."""
    settings = _settings(args)
    ensure_model(settings)
    with _resumable_run(settings, ["run", args.tag], args.run_id) as run_id:
        summary = pipeline.run(settings, run_id=run_id, tags=args.tag or None, progress=_collecting)
    if summary.targets == 0:
        _err("nothing to collect: add tags (tagwatch watchlist add TAG) and sources "
             "(tagwatch sources add --platform mastodon --base-url URL)")
    _print_run(summary, settings)
    return 1 if summary.failures else 0


def cmd_load(args) -> int:
    settings = _settings(args)
    report = pipeline.load(args.run_id, settings)
    _out(f"loaded {report['files']} staging file(s): {report['received']} rows, "
         f"{report['new_posts']} new posts ({report['skipped']} already loaded)")
    return 0


def _print_run(summary: pipeline.RunSummary, settings: Settings) -> None:
    with session(settings.db_path, read_only=True) as con:
        counts = queries.summary(con, pipeline.safe_run_id(summary.run_id))
    _out(f"run {summary.run_id}")
    for row in counts["per_tag"]:
        _out(f"  {row['platform']:9} {row['source']:40} #{row['tag']:24} "
             f"received {row['received'] or 0:6}  new {row['new'] or 0:6}  {row['status']}")
    score = summary.score or {}
    if score:
        _out(f"scored {score['scored']} new post(s) with model {score['model_version']}: "
             f"{score['flagged']} flagged (threshold {score['threshold']:.2f})"
             + (f", {score['unscorable']} could not be scored" if score["unscorable"] else ""))
    _out(f"warehouse: {settings.db_path} ({counts['posts']} posts in all)")
    if summary.flagged:
        _out(f"flagged list: {summary.flagged['path']} ({summary.flagged['count']} post(s) first seen today)")
    for failure in summary.failures:
        _err(f"collection failed: {failure}")
    for stopped in summary.stopped:
        _err(f"collection stopped (continues next run): {stopped}")


# --- the classifier --------------------------------------------------------------------

def ensure_model(settings: Settings) -> None:
    """Score with the current model; with none yet (or one of an old format), train one first."""
    from classifiers.errors import ModelFormatError, ModelNotFound
    from classifiers.store import load

    try:
        load(settings.models_dir)
    except ModelNotFound as exc:
        why = str(exc) if isinstance(exc, ModelFormatError) else \
            f"no trained model in {settings.models_dir}"
        _err(f"{why}: training one on the default data")
        _train(settings, inputs=[], default_data=True, allow_download=True)


def _train(settings: Settings, inputs: list[str], default_data: bool, allow_download: bool) -> str:
    """Train on the default data, the warehouse labels and `inputs`; promote if better."""
    from classifiers import data, registry, store, training
    from classifiers.errors import ModelIntegrityError, ModelNotFound
    from classifiers.labels import labels_dataset

    reference, notes = data.default_datasets(settings, allow_download=allow_download)
    with session(settings.db_path) as con:
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
        _err(note)
    with progress(f"training on {sum(len(d.texts) for d in datasets):,} posts"):
        trained = training.train(datasets, notes=notes)
    version = store.save(trained, settings.models_dir, make_current=False)
    _out(f"trained model {version} on " + ", ".join(
        f"{d['name']} ({d['rows']} rows)" for d in trained.datasets))
    _out("held-out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in trained.metrics.items() if not isinstance(v, dict)))
    _out(f"operating threshold {trained.threshold:.3f}; saved in {settings.models_dir / version}")

    with session(settings.db_path) as con:
        current_version = registry.promoted_version(con)
    current_version = current_version or store.current_version(settings.models_dir)
    current = None
    if current_version:
        try:
            current = store.load(settings.models_dir, current_version)
        except (ModelNotFound, ModelIntegrityError) as exc:
            _err(f"warning: the promoted model cannot be loaded, so it cannot be compared: {exc}")
    decision = registry.compare(trained, current, registry.yardstick(reference))
    with session(settings.db_path) as con:
        registry.register(con, trained, settings.models_dir)
        if decision.promote:
            registry.promote(con, version, settings.models_dir, f"promoted: {decision.reason}")
        else:
            registry.record_decision(con, version, f"not promoted: {decision.reason}")
    if decision.promote:
        _out(f"promoted {version}: {decision.reason}")
    else:
        _out(f"NOT promoted {version}: {decision.reason}; {current_version} stays in use "
             f"(promote it anyway with `tagwatch models promote {version}`)")
    return version


def cmd_train(args) -> int:
    settings = _settings(args)
    _train(settings, args.input or [], default_data=not args.no_default_data,
           allow_download=not args.offline)
    return 0


def cmd_score(args) -> int:
    from classifiers.scoring import score_csv
    from classifiers.store import load

    settings = _settings(args)
    scorer = load(settings.models_dir)
    folder = Path(args.output).parent
    created = not folder.exists()
    with progress(f"scoring {Path(args.input).name}", unit="rows") as advance:
        n = score_csv(args.input, args.output, scorer, batch_size=args.batch_size, advance=advance)
    _out(f"scored {n} row(s) with model {scorer.version} -> {args.output}"
         + (f" (created the folder {folder}, which did not exist)" if created else ""))
    return 0


# --- reading the results ---------------------------------------------------------------

def cmd_flagged(args) -> int:
    settings = _settings(args)
    since = queries.parse_since(args.since)
    with session(settings.db_path, read_only=True) as con:
        rows = queries.flagged(con, since=since, limit=args.limit)
    if args.format == "csv":
        pipeline.write_flagged_csv(rows, sys.stdout)
        return 0
    if not rows:
        _out(f"no flagged posts first seen since {args.since}" if since else "no flagged posts")
        return 0
    for r in rows:
        r["tags"] = " ".join(f"#{t}" for t in r["hashtags"] or [])
        r["score"] = f"{r['score']:.2f}"
        r["staff_target"] = "" if r["staff_target"] is None else f"{r['staff_target']:.2f}"
        r["why"] = pipeline.why(r)
    _table(rows, ["score", "staff_target", "platform", "url", "tags", "text", "why"], "table")
    return 0


def _table(rows: list[dict], columns: list[str], fmt: str = "table") -> None:
    if fmt == "csv":
        writer = SafeWriter(sys.stdout, lineterminator="\r\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([r.get(c) for c in columns])
        return
    if fmt == "json":
        _out(json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str, indent=1))
        return
    widths = {"text": 70, "url": 60, "note": 40, "why": 100}
    values = [[_shown(r.get(c)) for c in columns] for r in rows]
    sizes = [max([len(c)] + [len(cell(row[i], widths.get(c, 40))) for row in values])
             for i, c in enumerate(columns)]
    width = _terminal_width()
    if width:
        sizes = _fit(columns, sizes, width)
    _out("  ".join(c[:sizes[i]].ljust(sizes[i]) for i, c in enumerate(columns)).rstrip())
    for row in values:
        _out("  ".join(cell(v, sizes[i]).ljust(sizes[i]) for i, v in enumerate(row)).rstrip())


# Columns of free text that give up width first when a table is wider than the terminal.
SHRINKABLE = ("text", "why", "url", "note", "tags", "categories", "synonyms", "base_url", "post_id")
MIN_SHRUNK = 12


def _shown(value):
    """Times to the second (microseconds are noise to a reader); everything else as it is."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value


def _terminal_width() -> int | None:
    """Columns to fit into: the terminal's, or $COLUMNS; None when output is not a terminal."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _fit(columns: list[str], sizes: list[int], width: int) -> list[int]:
    """Narrow the widest free-text column, one character at a time, until the row fits."""
    sizes = list(sizes)
    flexible = [i for i, c in enumerate(columns) if c in SHRINKABLE]
    while flexible and sum(sizes) + 2 * (len(sizes) - 1) > width:
        widest = max(flexible, key=lambda i: sizes[i])
        if sizes[widest] <= MIN_SHRUNK:
            break
        sizes[widest] -= 1
    return sizes


# --- the offline sample ----------------------------------------------------------------

def cmd_replay_server(args) -> int:
    from fakes.mastodon import serve

    _out(f"serving the bundled sample as a Mastodon instance at http://{args.host}:{args.port} "
         "(Ctrl-C stops)")
    serve(args.host, args.port)
    return 0


def cmd_demo(args) -> int:
    from tagwatch import demo

    return demo.run_demo(_settings(args), engine=args.engine)


# --- wiring ----------------------------------------------------------------------------

# Command groups that live in modules of their own; each has register(sub, common),
# adding its subparsers with set_defaults(func=...). Add a module here to add commands.
COMMAND_MODULES: tuple[str, ...] = (
    "tagwatch.commands.imports",
    "tagwatch.commands.tags",
    "tagwatch.commands.resurfacing",
    "tagwatch.commands.case",
    "tagwatch.commands.intake",
    "tagwatch.commands.user",
    "tagwatch.commands.serve",
    "tagwatch.commands.report",
    "tagwatch.commands.labels",
    "tagwatch.commands.models",
    "tagwatch.commands.evaluate",
    "tagwatch.commands.staging",
    "tagwatch.commands.airflow",
    "tagwatch.commands.settings",
    "tagwatch.commands.maintenance",
    "tagwatch.commands.minimise",
    "tagwatch.commands.doctor",
)

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="warehouse file (default: $TAGWATCH_DB or data/tagwatch.duckdb)")
    parser = argparse.ArgumentParser(
        prog="tagwatch", description="Hashtag monitoring that protects school staff from online abuse.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("watchlist", parents=[common], help="the hashtags to watch")
    wl = p.add_subparsers(dest="action", required=True)
    a = wl.add_parser("add", parents=[common], help="watch one or more tags")
    a.add_argument("tags", nargs="+", metavar="TAG")
    a.add_argument("--status", choices=queries.WATCH_STATUSES, default="watch")
    a.add_argument("--note")
    a.add_argument("--synonym", action="extend", nargs="+", default=[], metavar="WORD",
                   help="an analyst synonym of the tag(s), matched like the tag itself; repeatable")
    r = wl.add_parser("remove", parents=[common], help="stop watching tags")
    r.add_argument("tags", nargs="+", metavar="TAG")
    ls = wl.add_parser("list", parents=[common], help="show the watchlist")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_watchlist)

    p = sub.add_parser("sources", parents=[common], help="where to collect from (e.g. Mastodon instances)")
    so = p.add_subparsers(dest="action", required=True)
    for name, text in (("add", "add a source"), ("remove", "remove a source")):
        s = so.add_parser(name, parents=[common], help=text)
        s.add_argument("--platform", default="mastodon")
        s.add_argument("--base-url", required=True)
    ls = so.add_parser("list", parents=[common], help="show the sources")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("collect", parents=[common], help="collect tags from one source, load and score")
    p.add_argument("--platform", required=True, help=", ".join(platforms.names()))
    p.add_argument("--base-url", required=True,
                   help="e.g. https://mastodon.social, https://bsky.social, https://open.tiktokapis.com")
    p.add_argument("--tag", action="append", required=True, help="repeat for several tags")
    p.add_argument("--since", metavar="DATE",
                   help="backfill from this date (YYYY-MM-DD) instead of the last position")
    p.add_argument("--no-score", action="store_true", help="collect and load only")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("run", parents=[common], help="one monitoring run over the watchlist and sources")
    p.add_argument("--run-id")
    p.add_argument("--tag", action="append", help="only these tags (default: the watchlist)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("load", parents=[common], help="load staging files not loaded yet")
    p.add_argument("--run-id", help="only this run's staging")
    p.set_defaults(func=cmd_load)

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

    p = sub.add_parser("flagged", parents=[common], help="the flagged posts")
    p.add_argument("--since", default="1d", help="first seen within this period: 30m, 12h, 1d, 2w, all")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.add_argument("--limit", type=argtypes.limit)
    p.set_defaults(func=cmd_flagged)

    p = sub.add_parser("replay-server", help="serve the bundled offline sample as a Mastodon instance")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=argtypes.port, default=8089)
    p.set_defaults(func=cmd_replay_server)

    p = sub.add_parser("demo", parents=[common], help="the whole pipeline on the bundled sample, offline")
    p.add_argument("--engine", choices=["airflow", "inprocess"], default="airflow",
                   help="run the DAG with Airflow's dag.test() (default) or the same steps in-process")
    p.set_defaults(func=cmd_demo)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    private_umask()  # the data tagwatch writes (warehouse, staging, models, lists) is private
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return status
    except KeyboardInterrupt:
        _err("tagwatch: interrupted")
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:
        if args.verbose:
            raise
        _err(f"tagwatch: error: {one_line(exc)}" if _is_user_error(exc) else
             f"tagwatch: unexpected error ({type(exc).__name__}): {one_line(exc)}; "
             "nothing more was done (run again with -v for the details)")
        return 1


def one_line(exc: BaseException, width: int = 400) -> str:
    """An exception's message on one terminal-safe line (it may quote hostile input)."""
    return cell(str(exc) or type(exc).__name__, width)


def _closed_pipe() -> int:
    """The reader went away (`tagwatch flagged | head`): stop quietly, like other tools.

    Standard output is pointed at /dev/null so that the final flush at exit cannot
    raise again; 141 is what a shell reports for a process ended by SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _is_user_error(exc: Exception) -> bool:
    """Errors whose message tells the user what to fix (no traceback needed)."""
    # Light modules (no scikit-learn): a refused argument answers in about a second.
    from classifiers.corpora import CorpusError
    from classifiers.errors import ModelIntegrityError

    return isinstance(exc, (UserError, WarehouseError, CorpusError, ModelIntegrityError,
                            ValueError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
