"""Schema upgrades through alembic, run by the broker at start and by `mqgate db upgrade`."""
from __future__ import annotations

from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer mqgate; running on it could corrupt it."""


def _alembic_config(conn: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = conn
    return cfg


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection) -> None:
    """Bring the schema to head; refuse a database whose revision we do not know."""
    from alembic import command

    cfg = _alembic_config(conn)
    script = ScriptDirectory.from_config(cfg)
    current = current_revision(conn)
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaTooNew(
            f"the database is at schema revision {current}, which this mqgate "
            f"(head {script.get_current_head()}) does not know: it was written by a newer "
            "version. Upgrade mqgate or point it at another database.")
    command.upgrade(cfg, "head")


def upgrade_database(url: str) -> str | None:
    """`mqgate db upgrade`: bring the database at `url` to head; returns its revision."""
    from broker.store.store import make_engine

    engine = make_engine(url, "normal")
    try:
        with engine.begin() as conn:
            upgrade(conn)
            return current_revision(conn)
    finally:
        engine.dispose()
