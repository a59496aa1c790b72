"""`tagwatch airflow pools`: the Airflow pools the DAGs use, from the platform registry.

`tagwatch airflow pools` lists them; `--set` creates or updates them in Airflow's metadata
database (what `make airflow-setup` runs, after `airflow db migrate`). A new platform's
pool comes from its entry in collectors.platforms.
"""
from __future__ import annotations


def register(sub, common) -> None:
    p = sub.add_parser("airflow", help="Airflow set-up: the pools the DAGs use")
    group = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = group.add_parser("pools", help="list the pools (one per platform, one for the warehouse)")
    a.add_argument("--set", action="store_true",
                   help="create or update them in Airflow's metadata database")
    a.set_defaults(func=cmd_pools)


def cmd_pools(args) -> int:
    from tagwatch import airflow_env
    from tagwatch.console import out

    if args.set:
        airflow_env.configure()
        wanted = airflow_env.create_pools()
    else:
        wanted = airflow_env.pools()
    for name, slots, description in wanted:
        out(f"{name}\t{slots}\t{description}")
    return 0
