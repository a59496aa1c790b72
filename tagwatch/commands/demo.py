"""`tagwatch demo` and `tagwatch replay-server`: the bundled offline sample."""
from __future__ import annotations

from tagwatch import argtypes
from tagwatch.console import out, settings_from


def register(sub, common) -> None:
    p = sub.add_parser("replay-server", help="serve the bundled offline sample as a Mastodon instance")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=argtypes.port, default=8089)
    p.set_defaults(func=cmd_replay_server)

    p = sub.add_parser("demo", parents=[common], help="the whole pipeline on the bundled sample, offline")
    p.add_argument("--engine", choices=["airflow", "inprocess"], default="airflow",
                   help="run the DAG with Airflow's dag.test() (default) or the same steps in-process")
    p.set_defaults(func=cmd_demo)


def cmd_replay_server(args) -> int:
    from fakes.mastodon import serve

    out(f"serving the bundled sample as a Mastodon instance at http://{args.host}:{args.port} "
        "(Ctrl-C stops)")
    serve(args.host, args.port)
    return 0


def cmd_demo(args) -> int:
    from tagwatch import demo

    return demo.run_demo(settings_from(args), engine=args.engine)
