"""Persistence: SQLAlchemy 2.0 models, engine over pg8000, unit of work, migrations."""
