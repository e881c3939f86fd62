"""The migrations build exactly the schema of the models, and take it down again, on every
database the suite runs on. (Sync tests: the migration environment runs its own event loop.)"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from databases import run_sync
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, inspect

from stepaudio_api.store.migrate import (
    database_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from stepaudio_api.store.tables import Base


def table_names(url: str) -> set[str]:
    return run_sync(url, lambda connection: set(inspect(connection).get_table_names()))


def schema_diff(url: str, metadata: MetaData) -> list[Any]:
    """What `alembic revision --autogenerate` would write to bring the database to `metadata`."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": metadata}
        )
        return compare_metadata(context, metadata)

    return run_sync(url, compare)


def test_upgrade_builds_every_table_at_head(database_url: str) -> None:
    assert head_revision() is not None
    assert database_revision(database_url) is None
    upgrade_database(database_url)
    assert database_revision(database_url) == head_revision()
    assert table_names(database_url) == {*Base.metadata.tables, "alembic_version"}
    upgrade_database(database_url)  # at head already: nothing to do, nothing fails
    assert database_revision(database_url) == head_revision()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    upgrade_database(database_url)
    assert schema_diff(database_url, Base.metadata) == []


def test_the_comparison_catches_drift(database_url: str) -> None:
    upgrade_database(database_url)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["api_keys"].append_column(Column("nickname", String(50)))
    drifted.tables["api_keys"].c.name.type = String(300)  # 200 in the migration
    Table("drift_only", drifted, Column("id", Integer, primary_key=True))
    changes = {describe(change) for change in schema_diff(database_url, drifted)}
    assert changes == {
        ("add_table", "drift_only"),
        ("add_column", "api_keys.nickname"),
        ("modify_type", "api_keys.name"),
    }


def describe(change: Any) -> tuple[str, str]:
    if isinstance(change, list):  # column modifications come grouped, one list per column
        (change,) = change
    kind = change[0]
    if kind == "add_table":
        return kind, change[1].name
    if kind == "add_column":  # (kind, schema, table, Column)
        return kind, f"{change[2]}.{change[3].name}"
    return kind, f"{change[2]}.{change[3]}"  # modify_*: (kind, schema, table, column name, ...)


def test_downgrade_to_base_drops_every_table(database_url: str) -> None:
    upgrade_database(database_url)
    downgrade_database(database_url)
    assert table_names(database_url) <= {"alembic_version"}
    assert database_revision(database_url) is None


def test_servers_starting_together_migrate_one_after_another(database_url: str) -> None:
    """Replicas (or `serve` and `db upgrade`) starting at once on an empty database all
    succeed: they take turns, and the later ones find it at head."""
    script = (
        "from stepaudio_api.store.migrate import upgrade_database; "
        f"upgrade_database({database_url!r})"
    )

    def migrate(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(migrate, range(4)))
    for result in results:
        assert result.returncode == 0, result.stderr
    assert database_revision(database_url) == head_revision()
    assert schema_diff(database_url, Base.metadata) == []
