"""One place for configuration: environment variables with defaults.

Every path is resolved when `Settings.from_env()` is called, so tests and the
DAG can point a run somewhere else by setting the environment first.

| variable                 | default                      |
|--------------------------|------------------------------|
| TAGWATCH_DB              | data/tagwatch.duckdb         |
| TAGWATCH_DATA_DIR        | data                         |
| TAGWATCH_STAGING_DIR     | $TAGWATCH_DATA_DIR/staging   |
| TAGWATCH_MODELS_DIR      | $TAGWATCH_DATA_DIR/models    |
| TAGWATCH_CACHE_DIR       | $TAGWATCH_DATA_DIR/cache     |
| TAGWATCH_CORPORA_DIR     | (unset: no local corpora)    |
| TAGWATCH_PSEUDONYM_KEY   | (unset: a random key is made once in $TAGWATCH_DATA_DIR/pseudonym.key) |
| TAGWATCH_USER_AGENT      | tagwatch/<version> (+contact) |
| TAGWATCH_HTTP_BACKOFF    | 1.0 (seconds; first wait between retries when no Retry-After) |
| TAGWATCH_HTTP_RETRIES    | 5 |
| TAGWATCH_HTTP_DEADLINE   | 300 (seconds one request may take in all, retries and waits included) |
| TAGWATCH_HTTP_INTERACTIVE_DEADLINE | 20 (the same for re-checks and pasted links: a person waits) |
| TAGWATCH_CASE_RETENTION_DAYS | 365 (a closed case keeps its frozen evidence this long; then `purge` strips it) |
| TAGWATCH_STATE_DIR       | $TAGWATCH_DATA_DIR/state (sessions, tokens, request budgets) |
| TAGWATCH_STORE_HANDLES   | 0 (1: also store authors' raw handles; off by default) |
| TAGWATCH_FIRST_RUN_DAYS  | 7 (how far back a source with no watermark starts) |
| TAGWATCH_TIKTOK_DAILY_REQUESTS | 1000 (the Research API's daily request quota) |
| TAGWATCH_TIKTOK_REGION   | (unset: all regions; e.g. GB) |
| TAGWATCH_INTAKE_HOSTS    | (unset: the school form fetches nothing) comma-separated platform hosts the intake may fetch from, as host or host:port, e.g. mastodon.social,127.0.0.1:8765 |
| TAGWATCH_INTAKE_HOURLY_LIMIT | 20 (URLs one school contact may submit per hour) |
"""
from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

VERSION = "0.1.0"
DEFAULT_USER_AGENT = (
    f"tagwatch/{VERSION} (school-staff abuse monitoring; "
    "+https://example.org/tagwatch; contact: set TAGWATCH_USER_AGENT)"
)


@dataclass(frozen=True)
class Settings:
    db_path: Path
    data_dir: Path
    staging_dir: Path
    models_dir: Path
    cache_dir: Path
    corpora_dir: Path | None
    user_agent: str
    http_backoff: float = 1.0
    http_retries: int = 5
    http_deadline: float = 300.0            # seconds per request, retries included (collection)
    http_interactive_deadline: float = 20.0  # the same when a person waits (re-checks, links)
    case_retention_days: int = 365          # a closed case keeps its evidence this long (purge)
    state_dir: Path | None = None
    store_handles: bool = False
    first_run_days: int = 7
    tiktok_daily_requests: int = 1000
    tiktok_region: str | None = None
    tiktok_comment_videos: int = 50     # flagged videos whose comments are fetched per run (0: none)
    web_min_interval: float = 5.0       # seconds between two requests to one web host
    intake_hosts: tuple[str, ...] = ()
    intake_hourly_limit: int = 20
    _pseudonym_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        data_dir = Path(env.get("TAGWATCH_DATA_DIR", "data"))
        corpora = env.get("TAGWATCH_CORPORA_DIR") or None
        key = env.get("TAGWATCH_PSEUDONYM_KEY")
        settings = cls(
            db_path=Path(env.get("TAGWATCH_DB", data_dir / "tagwatch.duckdb")),
            data_dir=data_dir,
            staging_dir=Path(env.get("TAGWATCH_STAGING_DIR", data_dir / "staging")),
            models_dir=Path(env.get("TAGWATCH_MODELS_DIR", data_dir / "models")),
            cache_dir=Path(env.get("TAGWATCH_CACHE_DIR", data_dir / "cache")),
            corpora_dir=Path(corpora) if corpora else None,
            user_agent=env.get("TAGWATCH_USER_AGENT", DEFAULT_USER_AGENT),
            http_backoff=_number(env, "TAGWATCH_HTTP_BACKOFF", 1.0, float),
            http_retries=_number(env, "TAGWATCH_HTTP_RETRIES", 5, int),
            http_deadline=_number(env, "TAGWATCH_HTTP_DEADLINE", 300.0, float),
            http_interactive_deadline=_number(env, "TAGWATCH_HTTP_INTERACTIVE_DEADLINE", 20.0, float),
            case_retention_days=_number(env, "TAGWATCH_CASE_RETENTION_DAYS", 365, int),
            state_dir=Path(env.get("TAGWATCH_STATE_DIR", data_dir / "state")),
            store_handles=_flag(env, "TAGWATCH_STORE_HANDLES"),
            first_run_days=_number(env, "TAGWATCH_FIRST_RUN_DAYS", 7, int),
            tiktok_daily_requests=_number(env, "TAGWATCH_TIKTOK_DAILY_REQUESTS", 1000, int),
            tiktok_region=(env.get("TAGWATCH_TIKTOK_REGION") or "").strip().upper() or None,
            tiktok_comment_videos=_number(env, "TAGWATCH_TIKTOK_COMMENT_VIDEOS", 50, int),
            web_min_interval=_number(env, "TAGWATCH_WEB_MIN_INTERVAL", 5.0, float),
            intake_hosts=_hosts(env.get("TAGWATCH_INTAKE_HOSTS", "")),
            intake_hourly_limit=_number(env, "TAGWATCH_INTAKE_HOURLY_LIMIT", 20, int),
            _pseudonym_key=key.encode() if key else None,
        )
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
        from collectors.http import PoliteClient

        options.setdefault("deadline", self.http_interactive_deadline if interactive
                           else self.http_deadline)
        return PoliteClient(self.user_agent, backoff_base=self.http_backoff,
                            max_retries=self.http_retries, **options)

    def to_env(self) -> dict[str, str]:
        """The variables that make Settings.from_env() in another task or process equal this."""
        env = {
            "TAGWATCH_DB": str(self.db_path.resolve()),
            "TAGWATCH_DATA_DIR": str(self.data_dir.resolve()),
            "TAGWATCH_STAGING_DIR": str(self.staging_dir.resolve()),
            "TAGWATCH_MODELS_DIR": str(self.models_dir.resolve()),
            "TAGWATCH_CACHE_DIR": str(self.cache_dir.resolve()),
            "TAGWATCH_USER_AGENT": self.user_agent,
            "TAGWATCH_HTTP_BACKOFF": str(self.http_backoff),
            "TAGWATCH_HTTP_RETRIES": str(self.http_retries),
            "TAGWATCH_HTTP_DEADLINE": str(self.http_deadline),
            "TAGWATCH_HTTP_INTERACTIVE_DEADLINE": str(self.http_interactive_deadline),
            "TAGWATCH_CASE_RETENTION_DAYS": str(self.case_retention_days),
            "TAGWATCH_STATE_DIR": str(Path(self.state_dir or self.data_dir / "state").resolve()),
            "TAGWATCH_STORE_HANDLES": "1" if self.store_handles else "0",
            "TAGWATCH_FIRST_RUN_DAYS": str(self.first_run_days),
            "TAGWATCH_TIKTOK_DAILY_REQUESTS": str(self.tiktok_daily_requests),
            "TAGWATCH_TIKTOK_COMMENT_VIDEOS": str(self.tiktok_comment_videos),
            "TAGWATCH_WEB_MIN_INTERVAL": str(self.web_min_interval),
        }
        if self.intake_hosts:
            env["TAGWATCH_INTAKE_HOSTS"] = ",".join(self.intake_hosts)
        env["TAGWATCH_INTAKE_HOURLY_LIMIT"] = str(self.intake_hourly_limit)
        if self.tiktok_region:
            env["TAGWATCH_TIKTOK_REGION"] = self.tiktok_region
        if self.corpora_dir:
            env["TAGWATCH_CORPORA_DIR"] = str(self.corpora_dir.resolve())
        return env

    @property
    def pseudonym_key(self) -> bytes:
        """The secret behind author pseudonyms.

        Without TAGWATCH_PSEUDONYM_KEY a random key is created once and kept
        beside the data (never in git): the same author keeps the same
        pseudonym across runs, and nobody without the key can reverse it.
        """
        if self._pseudonym_key:
            return self._pseudonym_key
        path = self.data_dir / "pseudonym.key"
        if not path.exists():
            # Parallel collect tasks (processes or threads) may race here: write a private
            # temp file and link it into place, so every one ends up reading one whole key.
            path.parent.mkdir(parents=True, exist_ok=True)
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
        return path.read_text().strip().encode()


def _hosts(raw: str) -> tuple[str, ...]:
    """'Mastodon.Social, 127.0.0.1:8765' -> ('mastodon.social', '127.0.0.1:8765')."""
    hosts = tuple(h.strip().lower().rstrip("/") for h in raw.split(",") if h.strip())
    bad = [h for h in hosts if "/" in h or "@" in h or " " in h]
    if bad:
        raise ValueError(f"TAGWATCH_INTAKE_HOSTS: give host or host:port, not {', '.join(bad)}")
    return hosts


def _flag(env, name: str) -> bool:
    raw = (env.get(name) or "0").strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no", "on", "off", ""):
        raise ValueError(f"{name}={raw!r}: use 1 (on) or 0 (off)")
    return raw in ("1", "true", "yes", "on")


def _number(env, name: str, default, kind):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value
