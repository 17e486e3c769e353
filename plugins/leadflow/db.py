"""Postgres access: one way to connect, one place for the tables the Python side owns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg

from leadflow.errors import ServiceUnreachable
from leadflow.settings import PostgresSettings


def open_connection(settings: PostgresSettings) -> psycopg.Connection:
    """A new connection, or an error that says which server failed and what to check."""
    try:
        return psycopg.connect(**settings.conninfo())
    except psycopg.OperationalError as exc:
        where = (
            settings.host if settings.host.startswith("/") else f"{settings.host}:{settings.port}"
        )
        raise ServiceUnreachable(
            f"Cannot connect to Postgres at {where} (database '{settings.dbname}', user "
            f"'{settings.user}'): {str(exc).strip()}. Is the server running, and is the Airflow "
            "connection 'leadflow_postgres' right?"
        ) from exc


@contextmanager
def connect(settings: PostgresSettings) -> Iterator[psycopg.Connection]:
    """A transaction-scoped connection: commit on success, roll back on any error."""
    conn = open_connection(settings)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


def ensure_schema(settings: PostgresSettings) -> None:
    """Create the bookkeeping tables and every source's raw tables; idempotent, cheap enough to
    run before every task."""
    from leadflow.sources import configured

    ddl = [resources.files("leadflow").joinpath("schema.sql").read_text()]
    ddl += [source.schema_sql() for source in configured()]
    with connect(settings) as conn:
        # Serialise concurrent first runs: CREATE ... IF NOT EXISTS races on the catalog.
        conn.execute("select pg_advisory_xact_lock(hashtext('leadflow.schema'))")
        for statements in ddl:
            conn.execute(statements)
