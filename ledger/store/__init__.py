"""The store: SQLModel rows, engines and sessions, Alembic migrations, and conversion
between rows and lot-engine values."""
