"""A throwaway PostgreSQL database per test, on the local server (127.0.0.1:5432, trust auth).

In CI (`CI` set) an unreachable server fails the test loudly; elsewhere it skips with how to
start the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
START_HINT = "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@contextmanager
def fresh_database(prefix: str = "forecastops_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(
        f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL on 127.0.0.1:5432 is unreachable ({error.orig}); {START_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            left = connection.execute(
                sa.text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar_one()
        admin.dispose()
        assert left == 0, f"test database {name} was not dropped"
