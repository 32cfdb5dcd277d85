"""Alembic revisions, named by date and slug."""
