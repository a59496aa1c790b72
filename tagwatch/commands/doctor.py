"""`tagwatch doctor`: is this installation healthy? Every check prints one line; exit 1 on a problem.

    ok       the check passed
    warn     worth a look, not broken (e.g. Airflow not set up on a cron-only machine)
    PROBLEM  something is broken or will break: the exit status is 1
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

OK, WARN, PROBLEM = "ok", "warn", "PROBLEM"
SILENT_AFTER = timedelta(days=2)        # a source with no new post for this long looks dead
UNLOADED_AFTER = timedelta(hours=2)     # staging not loaded for this long: the loader is stuck


def register(sub, common) -> None:
    p = sub.add_parser("doctor", parents=[common], help="check the installation; exit 1 on a problem")
    p.add_argument("--no-airflow", action="store_true", help="skip the Airflow and SMTP checks")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    from tagwatch.console import out, settings_from
    from tagwatch.console import cell

    settings = settings_from(args)
    checks = [check_warehouse, check_staging, check_models, check_permissions, check_disk,
              check_sources]
    if not args.no_airflow:
        checks += [check_airflow, check_smtp]
    worst = OK
    for check in checks:
        try:
            results = check(settings)
        except Exception as exc:  # a check that cannot run is itself a finding
            results = [(PROBLEM, check.__name__.removeprefix("check_"),
                        f"could not be checked: {type(exc).__name__}: {exc}")]
        for status, name, detail in results:
            out(f"{status:8} {name:22} {cell(detail, 160)}")
            if status == PROBLEM:
                worst = PROBLEM
    return 1 if worst == PROBLEM else 0


def check_warehouse(settings):
    from warehouse.db import migrations, session

    if not settings.db_path.exists():
        return [(PROBLEM, "warehouse", f"no warehouse at {settings.db_path}")]
    with session(settings.db_path, read_only=True, lock_wait=30) as con:
        done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
        leftover = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name IN ('posts_load')").fetchall()]
    missing = [name for number, name, _ in migrations() if number not in done]
    results = [(OK, "warehouse", f"{settings.db_path} opens")]
    results.append((WARN, "migrations", f"not applied yet (the next write applies them): "
                    f"{', '.join(missing)}") if missing else
                   (OK, "migrations", f"all {len(done)} applied"))
    if leftover:
        results.append((WARN, "warehouse", "a killed load left a scratch table (the next load drops it)"))
    return results


def check_staging(settings):
    from collectors.staging import Manifest, find_manifests, sweep_orphans
    from warehouse.db import session
    from warehouse.maintenance import sha256_file

    orphans = sweep_orphans(settings.staging_dir, dry_run=True)
    with session(settings.db_path, read_only=True, lock_wait=30) as con:
        loaded = {(r[0], r[1], r[2], r[3]): r[4] for r in con.execute(
            "SELECT run_id, platform, source, tag, staging_sha256 FROM collection_runs").fetchall()}
    now, pending, stale = datetime.now(timezone.utc), 0, 0
    for path in find_manifests(settings.staging_dir):
        manifest = Manifest.read(path)
        data = path.parent / manifest.data_file
        key = (manifest.run_id, manifest.platform, manifest.source, manifest.tag)
        if data.exists() and loaded.get(key) == sha256_file(data):
            continue
        pending += 1
        if now - datetime.fromtimestamp(path.stat().st_mtime, timezone.utc) > UNLOADED_AFTER:
            stale += 1
    results = [(PROBLEM if stale else (WARN if pending else OK), "staging",
                f"{pending} task(s) not loaded, {stale} of them for over "
                f"{UNLOADED_AFTER.total_seconds() / 3600:.0f} h (run `tagwatch load`)"
                if pending else "everything staged is loaded")]
    if orphans.removed:
        results.append((PROBLEM, "staging orphans", f"{len(orphans.removed)} data file(s) of killed "
                        "tasks without a manifest (the next load sweeps them)"))
    return results


def check_models(settings):
    from warehouse.maintenance import sha256_file

    if not settings.models_dir.is_dir():
        return [(PROBLEM, "models", f"no models in {settings.models_dir}: run `tagwatch train`")]
    results, good = [], 0
    for folder in sorted(p for p in settings.models_dir.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            results.append((WARN, "models", f"{folder.name}: an interrupted save (safe to delete)"))
            continue
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            ok = sha256_file(folder / meta["model_file"]) == meta["model_sha256"]
        except (OSError, ValueError, KeyError) as exc:
            results.append((PROBLEM, "models", f"{folder.name}: unreadable ({exc})"))
            continue
        if not ok:
            results.append((PROBLEM, "models", f"{folder.name}: the model file does not match its checksum"))
        good += ok
    return [(OK, "models", f"{good} model(s), checksums match")] + results


def check_permissions(settings):
    results = []
    key = settings.data_dir / "pseudonym.key"
    if key.exists() and key.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        results.append((PROBLEM, "permissions", f"{key} can be read by others: chmod 600 it"))
    for path in [settings.db_path, settings.data_dir, settings.staging_dir]:
        if path.exists() and path.stat().st_mode & stat.S_IWOTH:
            results.append((PROBLEM, "permissions", f"{path} is writable by every user"))
    state = Path(settings.state_dir or settings.data_dir / "state")
    loose = [p for p in state.glob("*.json") if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]
    if loose:
        results.append((PROBLEM, "permissions", f"{len(loose)} state file(s) in {state} readable by "
                        "others (they may hold session tokens)"))
    return results or [(OK, "permissions", "key, warehouse, staging and state are private enough")]


def check_disk(settings):
    size = settings.db_path.stat().st_size if settings.db_path.exists() else 0
    free = shutil.disk_usage(settings.db_path.parent if settings.db_path.parent.exists() else ".").free
    need = 2 * size  # a backup or a purge's compaction writes a whole copy
    status = PROBLEM if free < need else OK
    return [(status, "disk", f"{free / 1e9:.1f} GB free, warehouse {size / 1e6:.1f} MB "
             f"(a backup or purge needs {need / 1e6:.1f} MB)")]


def check_sources(settings):
    from warehouse.db import session

    with session(settings.db_path, read_only=True, lock_wait=30) as con:
        rows = con.execute(
            "SELECT s.platform, s.base_url, max(p.first_seen_at) FROM sources s "
            "LEFT JOIN posts p ON p.platform = s.platform AND rtrim(p.source, '/') = rtrim(s.base_url, '/') "
            "WHERE s.enabled GROUP BY ALL ORDER BY ALL").fetchall()
    now, results = datetime.now(timezone.utc), []
    for platform, source, newest in rows:
        if newest is None:
            results.append((WARN, "source", f"{platform} {source}: no post seen yet"))
            continue
        age = now - newest
        status = PROBLEM if age > SILENT_AFTER else OK
        results.append((status, "source", f"{platform} {source}: newest post seen "
                        f"{age.total_seconds() / 3600:.1f} h ago" + (" (silent: dead?)" if status == PROBLEM else "")))
    return results or [(WARN, "source", "no sources configured")]


def check_airflow(settings):
    from tagwatch import airflow_env

    home = airflow_env.configure()
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return [(WARN, "airflow", f"no Airflow metadata database in {home} (not set up: "
                 "`make airflow-setup`; fine when tagwatch runs from cron)")]
    from airflow.models.dagrun import DagRun
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import func

    with create_session() as db:
        have = {p.pool for p in db.query(Pool).all()}
        last = dict(db.query(DagRun.dag_id, func.max(DagRun.end_date))
                    .filter(DagRun.state == "success").group_by(DagRun.dag_id).all())
    missing = [name for name, _, _ in airflow_env.pools() if name not in have]
    results = [(PROBLEM, "airflow pools", f"missing: {', '.join(missing)} (`make airflow-setup`)")
               if missing else (OK, "airflow pools", f"all {len(have)} present")]
    for dag_id in ("hashtag_monitor", "case_followup", "education_report", "school_digests", "backup"):
        when = last.get(dag_id)
        results.append((OK if when else WARN, f"dag {dag_id}",
                        f"last success {when:%Y-%m-%d %H:%M} UTC" if when else "no successful run yet"))
    return results


def check_smtp(settings):
    from reports.send import check_connection

    try:
        check_connection()
    except Exception as exc:
        return [(WARN, "smtp", str(exc))]
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn = SmtpHook.get_connection("smtp_default")
    try:
        with socket.create_connection((conn.host, conn.port or 25), timeout=5) as sock:
            banner = sock.recv(128).decode("ascii", "replace").strip()
    except OSError as exc:
        return [(PROBLEM, "smtp", f"smtp_default {conn.host}:{conn.port}: cannot connect ({exc})")]
    return [(OK if banner.startswith("220") else PROBLEM, "smtp",
             f"smtp_default {conn.host}:{conn.port} answers: {banner[:60]}")]
