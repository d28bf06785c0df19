"""Storage: tables, migrations, queries and queue claims (SQLite and Postgres)."""
