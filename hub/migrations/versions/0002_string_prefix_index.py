"""search_string: a lookup index that serves prefix search on PostgreSQL

String search is ``value_norm LIKE 'prefix%'``. Under a database collation other than C (C.UTF-8,
en_US.UTF-8, zh_CN.UTF-8...) a plain btree cannot answer LIKE with an index range, so a name
search read every index row of its parameter (all names, at 1,000,000 Patients about 3,000,000
rows). With the ``varchar_pattern_ops`` operator class the prefix becomes an index range;
equality still uses the index. SQLite keeps its index as it is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = ["resource_type", "param", "value_norm"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_search_string_lookup", table_name="search_string")
    op.create_index(
        "ix_search_string_lookup",
        "search_string",
        _COLUMNS,
        postgresql_ops={"value_norm": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_search_string_lookup", table_name="search_string")
    op.create_index("ix_search_string_lookup", "search_string", _COLUMNS)
