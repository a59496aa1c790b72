"""One place for configuration: every environment variable once, in SETTINGS below.

Each row is (variable, Settings field, kind, default, help). `Settings.from_env()` reads
the environment through it; `Settings.to_env()` writes it back for another process;
`markdown_table()` renders the table in docs/settings.md and README.md ("Configuration"),
which tests/test_settings.py keeps equal to it. Paths are resolved when `from_env()` is
called, so tests and the DAG can point a run elsewhere by setting the environment first.
Defaults the rooms own (CollectOptions, PoliteClient) are read from them, not copied.
Platform credentials are not settings: each platform's entry in collectors/platforms.py
names its own. Variable names are contracts: never rename one.
"""
from __future__ import annotations

import inspect
import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from collectors.base import CollectOptions
from collectors.http import PoliteClient
from common.private import private_dir, private_file

VERSION = "0.1.0"
DEFAULT_USER_AGENT = (
    f"tagwatch/{VERSION} (school-staff abuse monitoring; "
    "+https://example.org/tagwatch; contact: set TAGWATCH_USER_AGENT)"
)


def _client_default(name: str) -> Any:
    return inspect.signature(PoliteClient).parameters[name].default


@dataclass(frozen=True)
class Setting:
    """One environment variable: the Settings field it fills, how it is read (kind), its
    default (a value, or a function of the fields read before it) and what it does."""

    env: str
    field: str
    kind: str            # path | text | int | float | flag | hosts | list | region | secret
    default: Any
    shown: str           # the default as the docs show it
    help: str

    def read(self, env, before: dict[str, Any]) -> Any:
        raw = env.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default(before) if callable(self.default) else self.default
        return _READERS[self.kind](self.env, raw)

    def write(self, value: Any) -> str | None:
        """The value as the variable's text (None: leave the variable unset)."""
        if value is None or value == ():
            return None
        if self.kind == "path":
            return str(Path(value).resolve())
        if self.kind == "flag":
            return "1" if value else "0"
        if self.kind in ("hosts", "list"):
            return ",".join(value)
        if self.kind == "secret":
            return None  # a key is never copied into another process's environment by us
        return str(value)


def _under_data(name: str) -> Callable[[dict], Path]:
    return lambda before: before["data_dir"] / name


SETTINGS: tuple[Setting, ...] = (
    Setting("TAGWATCH_DATA_DIR", "data_dir", "path", Path("data"), "`data`",
            "staging, models, cache, state, flagged lists, reports"),
    Setting("TAGWATCH_DB", "db_path", "path", _under_data("tagwatch.duckdb"),
            "`$TAGWATCH_DATA_DIR/tagwatch.duckdb`", "the warehouse (every command's `--db` overrides it)"),
    Setting("TAGWATCH_STAGING_DIR", "staging_dir", "path", _under_data("staging"),
            "`$TAGWATCH_DATA_DIR/staging`", "staged collections waiting for the loader"),
    Setting("TAGWATCH_MODELS_DIR", "models_dir", "path", _under_data("models"),
            "`$TAGWATCH_DATA_DIR/models`", "trained classifier versions"),
    Setting("TAGWATCH_CACHE_DIR", "cache_dir", "path", _under_data("cache"),
            "`$TAGWATCH_DATA_DIR/cache`", "downloaded corpora"),
    Setting("TAGWATCH_STATE_DIR", "state_dir", "path", _under_data("state"),
            "`$TAGWATCH_DATA_DIR/state`", "collector state: the shared Bluesky session, the TikTok "
            "token and daily request count (private files, 0600)"),
    Setting("TAGWATCH_CORPORA_DIR", "corpora_dir", "path", None, "unset",
            "folder of the real labelled corpora, one sub-folder per corpus as in `../shared/corpora` "
            "(davidson, stormfront, convabuse, mlma, toxicr, foxnews, misogyny, reddit_incivility, "
            "gh_incivility, strudel, hatecheck); the Makefile sets it to `../shared/corpora` when that "
            "exists. Davidson alone can also be downloaded once (checksum verified) when online. "
            "`make demo` names the corpora it cannot find; training without them uses the seed set "
            "and says so"),
    Setting("TAGWATCH_PSEUDONYM_KEY", "_pseudonym_key", "secret", None,
            "unset: read from `TAGWATCH_PSEUDONYM_KEY_FILE`",
            "the secret behind author pseudonyms: keep it, or the same author gets a new pseudonym"),
    Setting("TAGWATCH_PSEUDONYM_KEY_FILE", "pseudonym_key_file", "path", None,
            "`$TAGWATCH_DATA_DIR/pseudonym.key` (a random key made once, 0600)",
            "where the key is kept: put it outside the data directory (e.g. "
            "`/etc/tagwatch/pseudonym.key`), so a copy of the data alone cannot test guessed "
            "handles against the pseudonyms"),
    Setting("TAGWATCH_USER_AGENT", "user_agent", "text", DEFAULT_USER_AGENT,
            "`tagwatch/<version> (...)`", "put a contact address in it when collecting for real"),
    Setting("TAGWATCH_HTTP_BACKOFF", "http_backoff", "float", _client_default("backoff_base"),
            f"`{_client_default('backoff_base')}`",
            "seconds of the first wait between retries when a server gives no Retry-After (doubling)"),
    Setting("TAGWATCH_HTTP_RETRIES", "http_retries", "int", _client_default("max_retries"),
            f"`{_client_default('max_retries')}`", "retries of one request before a source counts as failed"),
    Setting("TAGWATCH_HTTP_DEADLINE", "http_deadline", "float", _client_default("deadline"),
            f"`{_client_default('deadline'):g}`",
            "seconds one request may take in all, retries and waits included (collection)"),
    Setting("TAGWATCH_HTTP_INTERACTIVE_DEADLINE", "http_interactive_deadline", "float", 20.0, "`20`",
            "the same when a person waits (re-checks, pasted links, the school form)"),
    Setting("TAGWATCH_CASE_RETENTION_DAYS", "case_retention_days", "int", 365, "`365`",
            "days a closed case keeps its frozen evidence before `tagwatch purge` strips it"),
    Setting("TAGWATCH_MINIMISE_DAYS", "minimise_days", "int", 30, "`30`",
            "days after which `tagwatch minimise` drops the URL and handle of posts neither flagged "
            "nor in a case"),
    Setting("TAGWATCH_STORE_HANDLES", "store_handles", "flag", CollectOptions.store_handles, "`0`",
            "`1` also stores authors' raw handles in `posts.author_handle`; off by default"),
    Setting("TAGWATCH_FIRST_RUN_DAYS", "first_run_days", "int", CollectOptions.first_run_days,
            f"`{CollectOptions.first_run_days}`", "how far back a source with no watermark starts"),
    Setting("TAGWATCH_TIKTOK_DAILY_REQUESTS", "tiktok_daily_requests", "int",
            CollectOptions.tiktok_daily_requests, f"`{CollectOptions.tiktok_daily_requests}`",
            "the daily Research API request budget; never exceeded"),
    Setting("TAGWATCH_TIKTOK_REGION", "tiktok_region", "region", CollectOptions.tiktok_region, "unset",
            "e.g. `GB`: only TikTok videos from that region"),
    Setting("TAGWATCH_TIKTOK_COMMENT_VIDEOS", "tiktok_comment_videos", "int", 50, "`50`",
            "flagged TikTok videos whose comments are fetched per run (`0`: none); each costs at "
            "least one request of the daily budget"),
    Setting("TAGWATCH_WEB_MIN_INTERVAL", "web_min_interval", "float", CollectOptions.web_min_interval,
            f"`{CollectOptions.web_min_interval:g}`", "seconds between two requests to one web host "
            "(longer if its robots.txt asks with `Crawl-delay`)"),
    Setting("TAGWATCH_INTAKE_HOSTS", "intake_hosts", "hosts", (), "unset: the school form fetches nothing",
            "hosts whose post addresses the school form and `case open --url` may fetch, as host or "
            "host:port, comma-separated, e.g. `mastodon.social,bsky.app,www.tiktok.com`"),
    Setting("TAGWATCH_INTAKE_HOURLY_LIMIT", "intake_hourly_limit", "int", 20, "`20`",
            "post addresses one school contact may submit per hour"),
    Setting("TAGWATCH_WEB_IDLE_MINUTES", "web_idle_minutes", "float", 30.0, "`30`",
            "a review-app session unused this long ends"),
    Setting("TAGWATCH_WEB_SESSION_HOURS", "web_session_hours", "float", 8.0, "`8`",
            "a review-app session ends this long after login, used or not"),
    Setting("TAGWATCH_UNDO_MINUTES", "undo_minutes", "float", 5.0, "`5`",
            "how long a review decision (confirm, dismiss, report; one case or many) can be undone "
            "by the person who made it (`tagwatch case undo`, the review app's Undo button)"),
    Setting("TAGWATCH_WEB_SECURE_COOKIE", "web_secure_cookie", "flag", False, "`off`",
            "`on`: the review app's session cookie is marked Secure (sent over https only); set it "
            "when the app is served behind https"),
    Setting("TAGWATCH_SCHEDULE", "schedule", "text", "@hourly", "`@hourly`",
            "the `hashtag_monitor` DAG's schedule (`none`: triggered runs only, as for every schedule)"),
    Setting("TAGWATCH_FOLLOWUP_SCHEDULE", "followup_schedule", "text", "@hourly", "`@hourly`",
            "the `case_followup` DAG's schedule (48 h deadlines and re-checks)"),
    Setting("TAGWATCH_DIGEST_SCHEDULE", "digest_schedule", "text", "0 16 * * *", "`0 16 * * *`",
            "the `school_digests` DAG's schedule"),
    Setting("TAGWATCH_BACKUP_SCHEDULE", "backup_schedule", "text", "@weekly", "`@weekly`",
            "the `backup` DAG's schedule (`none`: triggered runs only)"),
    Setting("TAGWATCH_BACKUP_DIR", "backup_dir", "path", _under_data("backups"),
            "`$TAGWATCH_DATA_DIR/backups`", "where the `backup` DAG keeps its dated backups"),
    Setting("TAGWATCH_BACKUP_KEEP", "backup_keep", "int", 4, "`4`",
            "how many of the `backup` DAG's backups are kept (the oldest go first)"),
    Setting("TAGWATCH_REPORT_SCHEDULE", "report_schedule", "text", "@weekly", "`@weekly`",
            "the `education_report` DAG's schedule"),
    Setting("TAGWATCH_AIRFLOW_PORT", "airflow_port", "int", 8080, "`8080`",
            "the Airflow API server and UI port of `make airflow-cluster`"),
    Setting("TAGWATCH_AIRFLOW_WORKER_SLOTS", "airflow_worker_slots", "int", 2, "`2`",
            "task slots per Celery worker of `make airflow-cluster`"),
    Setting("TAGWATCH_WORKER_NAME", "worker_name", "text", None, "unset: the machine's FQDN",
            "the host a task instance records (set per worker by `make airflow-cluster`)"),
    Setting("TAGWATCH_CRASH_AT", "crash_at", "text", None, "unset",
            "tests only: `NAME[:N]` kills the process at the N-th pass of `crashpoint(NAME)` "
            "(collectors/crashpoints.py reads it there, so a crash test needs no plumbing)"),
    Setting("TAGWATCH_REPORT_PERIOD", "report_period", "text", "7d", "`7d`",
            "what a report covers (`Nd` or `Nw`)"),
    Setting("TAGWATCH_REPORT_TO", "report_to", "list", (), "unset",
            "report recipients, separated by commas (`--to` overrides)"),
    Setting("TAGWATCH_REPORT_FROM", "report_from", "text", None,
            "the connection's `from_email`, else `tagwatch@localhost`",
            "the sender of reports and school digests"),
    Setting("TAGWATCH_REPORTS_DIR", "reports_dir", "path", _under_data("reports"),
            "`$TAGWATCH_DATA_DIR/reports`", "every sent report, one dated folder each"),
    Setting("TAGWATCH_REPORT_EXCERPTS", "report_excerpts", "flag", False, "`off`",
            "`on`: redacted excerpts of the mismatch cases' posts in reports"),
)
BY_ENV = {s.env: s for s in SETTINGS}


def markdown_table() -> str:
    """The settings as the Markdown table docs/settings.md and the README show."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.env}` | {s.shown} | {s.help} |" for s in SETTINGS]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Settings:
    """The values of SETTINGS (one field each; see the table for defaults and meaning)."""

    data_dir: Path
    db_path: Path
    staging_dir: Path
    models_dir: Path
    cache_dir: Path
    state_dir: Path
    corpora_dir: Path | None
    pseudonym_key_file: Path | None
    user_agent: str
    http_backoff: float
    http_retries: int
    http_deadline: float
    http_interactive_deadline: float
    case_retention_days: int
    minimise_days: int
    backup_schedule: str
    backup_dir: Path
    backup_keep: int
    store_handles: bool
    first_run_days: int
    tiktok_daily_requests: int
    tiktok_region: str | None
    tiktok_comment_videos: int
    web_min_interval: float
    intake_hosts: tuple[str, ...]
    intake_hourly_limit: int
    web_idle_minutes: float
    web_session_hours: float
    web_secure_cookie: bool
    undo_minutes: float
    schedule: str
    followup_schedule: str
    digest_schedule: str
    report_schedule: str
    airflow_port: int
    airflow_worker_slots: int
    worker_name: str | None
    crash_at: str | None
    report_period: str
    report_to: tuple[str, ...]
    report_from: str | None
    reports_dir: Path
    report_excerpts: bool
    _pseudonym_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            values[setting.field] = setting.read(os.environ, values)
        settings = cls(**values)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if "db_path" in overrides:
            overrides["db_path"] = Path(overrides["db_path"])
        return replace(settings, **overrides) if overrides else settings

    def http_client(self, *, interactive: bool = False, **options):
        """The polite HTTP client with this configuration's User-Agent, back-off and retries.

        `interactive`: someone is waiting (a re-check, a pasted link): each request gets
        TAGWATCH_HTTP_INTERACTIVE_DEADLINE seconds in all, retries included, instead of
        TAGWATCH_HTTP_DEADLINE.
        """
        options.setdefault("deadline", self.http_interactive_deadline if interactive
                           else self.http_deadline)
        return PoliteClient(self.user_agent, backoff_base=self.http_backoff,
                            max_retries=self.http_retries, **options)

    def to_env(self) -> dict[str, str]:
        """The variables that make Settings.from_env() in another task or process equal this."""
        env = {}
        for setting in SETTINGS:
            text = setting.write(getattr(self, setting.field))
            if text is not None:
                env[setting.env] = text
        return env

    @property
    def pseudonym_key_path(self) -> Path:
        """Where the pseudonym key file is (TAGWATCH_PSEUDONYM_KEY_FILE, else in the data dir)."""
        return self.pseudonym_key_file or self.data_dir / "pseudonym.key"

    @property
    def pseudonym_key(self) -> bytes:
        """The secret behind author pseudonyms.

        Without TAGWATCH_PSEUDONYM_KEY it is read from TAGWATCH_PSEUDONYM_KEY_FILE
        (default: pseudonym.key in the data directory), created once with a random key
        (0600, never in git): the same author keeps the same pseudonym across runs, and
        nobody without the key can reverse it. Kept outside the data directory, a copy
        of the data alone cannot be tested against guessed handles.
        """
        if self._pseudonym_key:
            return self._pseudonym_key
        path = self.pseudonym_key_path
        if not path.exists():
            # Parallel collect tasks (processes or threads) may race here: write a private
            # temp file and link it into place, so every one ends up reading one whole key.
            if not path.parent.exists():
                private_dir(path.parent)
            tmp = path.with_name(f".pseudonym.key.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        private_file(path)
        return path.read_text().strip().encode()


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    """'Mastodon.Social, 127.0.0.1:8765' -> ('mastodon.social', '127.0.0.1:8765')."""
    hosts = tuple(h.strip().lower().rstrip("/") for h in raw.split(",") if h.strip())
    bad = [h for h in hosts if "/" in h or "@" in h or " " in h]
    if bad:
        raise ValueError(f"{name}: give host or host:port, not {', '.join(bad)}")
    return hosts


def _flag(name: str, raw: str) -> bool:
    raw = raw.strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"{name}={raw!r}: use 1 (on) or 0 (off)")
    return raw in ("1", "true", "yes", "on")


def _number(kind):
    def read(name: str, raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a {kind.__name__}") from None
        if value < 0:
            raise ValueError(f"{name} must not be negative")
        return value
    return read


_READERS: dict[str, Callable[[str, str], Any]] = {
    "path": lambda name, raw: Path(raw),
    "text": lambda name, raw: raw,
    "int": _number(int),
    "float": _number(float),
    "flag": _flag,
    "hosts": _hosts,
    "list": lambda name, raw: tuple(a.strip() for a in raw.replace(";", ",").split(",") if a.strip()),
    "region": lambda name, raw: raw.strip().upper() or None,
    "secret": lambda name, raw: raw.encode(),
}
