"""Alembic migrations of the store (shipped inside the package as stepaudio_api.migrations)."""
