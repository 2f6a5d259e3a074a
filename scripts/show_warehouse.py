"""Print the row count of every table in a DuckDB warehouse (what the demo loaded)."""

from __future__ import annotations

import sys

import duckdb


def main(path: str) -> None:
    """One line per table: schema.table and its row count."""
    with duckdb.connect(path, read_only=True) as db:
        tables = db.execute("select table_schema, table_name from information_schema.tables order by 1, 2").fetchall()
        print(f"\nLoaded into {path}:")
        for schema, table in tables:
            (count,) = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()  # noqa: S608
            print(f"  {schema}.{table:<24} {count:>7} rows")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/demo/warehouse.duckdb")
