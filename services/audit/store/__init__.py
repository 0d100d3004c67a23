"""The audit store: audit records written once into a database, hash-chained (issue 5).

``db.py`` is the database (SQLAlchemy Core: PostgreSQL when configured, SQLite by default);
``app.py`` is the store writer, its own consumer group on the audit topic.
"""
