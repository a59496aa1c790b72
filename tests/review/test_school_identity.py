"""Issue 13 item 9: schools are records with ids, contacts are attached by id, and the
hourly intake limit holds under parallel submissions. Every school and person is invented."""
from __future__ import annotations

import dataclasses
import io
import threading

import pytest

from review import schools, users
from tagwatch import cli
from warehouse.db import WarehouseError, session

PW = "a long passphrase"


def test_a_contact_typed_gamma__school_never_sees_gamma_schools_reports(settings):
    with session(settings.db_path) as con:
        gamma = users.add_user(con, "head.gamma", "school", PW, "Gamma School")
    schools.submit(settings, "head.gamma", ["https://elsewhere.example/@a/1"], "about our head", "head")
    with session(settings.db_path) as con:
        for typed in ("Gamma  School", "gamma school", " Gamma School "):
            with pytest.raises(WarehouseError, match=f"--school-id {gamma}"):
                users.add_user(con, "new.contact", "school", PW, typed)
        other = users.add_user(con, "head.delta", "school", PW, "Gamma School North")
        second = users.add_user(con, "office.gamma", "school", PW, school_id=gamma)
        assert other != gamma and second == gamma
        assert [r["description"] for r in schools.my_reports(con, users.school_id_of(con, "office.gamma"))] == \
            ["about our head"]                                 # attached by id: sees its school's reports
        assert schools.my_reports(con, users.school_id_of(con, "head.delta")) == []
        assert users.school_id_of(con, "new.contact") is None  # nothing was created
        with pytest.raises(WarehouseError, match="no school with id 999"):
            users.add_user(con, "x", "school", PW, school_id=999)
        with pytest.raises(WarehouseError, match="not both"):
            users.add_user(con, "y", "school", PW, "Epsilon", school_id=gamma)


def test_user_add_by_school_id_and_user_schools_from_the_cli(settings, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert cli.main(["user", "add", "head.gamma", "--role", "school", "--school", "Gamma School"]) == 0
    assert "for Gamma School (school id 1)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert cli.main(["user", "add", "typo", "--role", "school", "--school", "Gamma  School"]) == 1
    assert "--school-id 1" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert cli.main(["user", "add", "office.gamma", "--role", "school", "--school-id", "1"]) == 0
    assert cli.main(["user", "schools"]) == 0
    assert "1  Gamma School  (2 contacts)" in capsys.readouterr().out


def test_four_parallel_submissions_of_ten_record_at_most_the_hourly_limit(settings):
    s = dataclasses.replace(settings, intake_hosts=(), intake_hourly_limit=20)  # nothing fetched
    with session(settings.db_path) as con:
        users.add_user(con, "head.fern", "school", PW, "Fernbrook Academy")
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def send(n: int) -> None:
        start.wait()
        try:
            schools.submit(s, "head.fern", [f"https://elsewhere.example/@a/{n}{i}" for i in range(10)], "", "teacher")
            outcomes.append("recorded")
        except schools.IntakeError as exc:
            outcomes.append(str(exc))
        except Exception as exc:  # noqa: BLE001
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session(settings.db_path) as con:
        recorded = con.execute("SELECT count(*) FROM intake_submissions").fetchone()[0]
    assert recorded == 20 and outcomes.count("recorded") == 2
    assert sum("at most 20 addresses an hour" in o for o in outcomes) == 2, outcomes


def test_the_migration_turns_school_names_into_records(tmp_path):
    import duckdb

    from warehouse import db

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT now())")
    for number, name, sql in db.migrations():
        if number < 14:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])
    con.execute("INSERT INTO users (name, role, password_hash, school) VALUES "
                "('a', 'school', 'x', 'Gamma School'), ('b', 'school', 'x', 'Gamma School'), "
                "('c', 'school', 'x', 'Delta Academy'), ('d', 'analyst', 'x', NULL)")
    con.execute("INSERT INTO intake_submissions (submitted_by, school, url, affected_role, submitted_at, "
                "outcome) VALUES ('a', 'Gamma School', 'u', 'teacher', now(), 'not_fetched')")
    assert "014_school_records.sql" in db.migrate(con)
    ids = dict(con.execute("SELECT name, school_id FROM users").fetchall())
    assert ids["a"] == ids["b"] != ids["c"] and ids["d"] is None
    assert con.execute("SELECT school_id FROM intake_submissions").fetchone()[0] == ids["a"]
    con.close()
