"""The throwaway PostgreSQL cluster itself: it starts, answers, survives a restart, cleans up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import text

from faults import LocalPostgresCluster, PostgresClusterError, find_bindir, postgres_url_from_env


def engine_for(url: str) -> sqlalchemy.Engine:
    # connect_timeout bounds every attempt: a cluster that is down fails fast instead of hanging.
    return sqlalchemy.create_engine(url, connect_args={"connect_timeout": 5})


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalPostgresCluster]:
    """A cluster of this module's own, so restarting and stopping it disturbs no other test."""
    cluster = LocalPostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.mark.postgres
def test_the_session_url_answers_select_1(postgres_url: str) -> None:
    engine = engine_for(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


@pytest.mark.postgres
def test_a_cluster_is_postgresql_15_on_loopback_only(own_cluster: LocalPostgresCluster) -> None:
    assert own_cluster.url == (
        f"postgresql+psycopg://chaosflow@127.0.0.1:{own_cluster.port}/chaosflow"
    )
    engine = engine_for(own_cluster.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert conn.execute(text("SHOW server_version")).scalar_one().startswith("15.")
        assert conn.execute(text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
        assert conn.execute(text("SELECT current_database()")).scalar_one() == "chaosflow"
    engine.dispose()


@pytest.mark.postgres
def test_a_new_database_is_empty_and_separate(own_cluster: LocalPostgresCluster) -> None:
    first, second = own_cluster.create_database(), own_cluster.create_database()
    assert first != second
    engine = engine_for(first)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE only_here (x int)"))
    engine.dispose()
    engine = engine_for(second)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('only_here')")).scalar_one() is None
    engine.dispose()


@pytest.mark.postgres
def test_committed_rows_survive_an_abrupt_restart(own_cluster: LocalPostgresCluster) -> None:
    engine = engine_for(own_cluster.url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (id int PRIMARY KEY, note text)"))
        conn.execute(text("INSERT INTO kept VALUES (1, 'before the restart')"))
    engine.dispose()

    own_cluster.restart(down_seconds=0.1)

    engine = engine_for(own_cluster.url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, note FROM kept")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "before the restart")]


@pytest.mark.postgres
def test_stop_removes_the_cluster_and_its_server() -> None:
    cluster = LocalPostgresCluster().start()
    root = cluster.root
    assert root is not None
    assert (root / "data" / "PG_VERSION").read_text().strip() == "15"
    url = cluster.url

    cluster.stop()

    assert cluster.root is None
    assert not root.exists()
    engine = engine_for(url)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        engine.connect()
    engine.dispose()
    cluster.stop()  # a second stop is harmless


def test_missing_binaries_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHAOSFLOW_PG_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(
        PostgresClusterError,
        match=r"\(initdb, pg_ctl\) not found in .*apt-get install postgresql-15.*CHAOSFLOW_PG_BIN",
    ):
        find_bindir()
    with pytest.raises(PostgresClusterError, match=r"not found in"):
        LocalPostgresCluster()


def test_an_explicit_bin_folder_is_used_as_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("initdb", "pg_ctl"):
        (tmp_path / name).write_text("#!/bin/sh\nexit 1\n")
    monkeypatch.setenv("CHAOSFLOW_PG_BIN", str(tmp_path))
    assert find_bindir() == tmp_path


def test_the_url_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSFLOW_POSTGRES_URL", "postgresql+psycopg://u@127.0.0.1:1/db")
    assert postgres_url_from_env() == "postgresql+psycopg://u@127.0.0.1:1/db"
    monkeypatch.setenv("CHAOSFLOW_POSTGRES_URL", "")
    assert postgres_url_from_env() is None
    monkeypatch.delenv("CHAOSFLOW_POSTGRES_URL")
    assert postgres_url_from_env() is None
