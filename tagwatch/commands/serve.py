"""`tagwatch serve`: the review web app (binds 127.0.0.1 unless told otherwise)."""
from __future__ import annotations

import gc

from tagwatch import argtypes


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="the review web app")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=argtypes.port, default=8000)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import uvicorn

    from tagwatch.config import Settings
    from webapp.app import create_app

    settings = Settings.from_env(db_path=args.db)
    # The intake scores what schools submit: import scikit-learn now (seconds), not inside
    # the first submission, which would then outlast its wait and go to the background.
    import classifiers.store  # noqa: F401
    print(f"review app for {settings.db_path} at http://{args.host}:{args.port} (Ctrl-C stops)",
          flush=True)
    app = create_app(settings.db_path, settings=settings)
    # What is loaded by now (FastAPI, Jinja, DuckDB, scikit-learn: several hundred thousand
    # objects) lives as long as the server: out of the collector's way, a full collection no
    # longer walks all of it in the middle of a page (measured: the queue page's render spiked
    # from 5 ms to 60-120 ms whenever one ran).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
