"""Alembic environment: always run on the connection handed in by broker.store.migrate."""
from alembic import context

from broker.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
