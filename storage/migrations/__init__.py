"""Alembic migrations (a package so that installs ship env.py and the revisions)."""
