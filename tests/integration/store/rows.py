"""Rows the store tests write straight into PostgreSQL, below the services."""

from __future__ import annotations

from sqlalchemy import Connection, text


def bare_restaurant(conn: Connection) -> int:
    """A bare restaurant row (the tables under test only need its id)."""
    return int(
        conn.execute(
            text(
                "INSERT INTO restaurants (slug, name, timezone, rules, config_version, "
                "created_at, updated_at) VALUES ('r', 'R', 'UTC', '{}', 1, now(), now()) "
                "RETURNING id"
            )
        ).scalar_one()
    )
