"""The SQL metadata store (SQLite embedded, PostgreSQL for teams)."""
