"""The Splink baseline's settings come from one builder for every backend (bench/mpi_splink.py):
DuckDB and Spark get the same comparisons, levels and blocking rules, each in its own dialect.

Needs the bench extra (Splink), which CI's venv does not install, so it lives beside the bench
scripts: ``scripts/test bench/test_mpi_splink_settings.py`` (well under a second; no Spark).
"""

from __future__ import annotations

import mpi_splink
import mpi_splink_spark
import pytest
from splink.internals.settings import Settings

KINDS = ["chinese", "febrl", "fake1000"]


def _levels(settings: Settings) -> list[tuple[str, list[str]]]:
    return [
        (c.output_column_name, [level.label_for_charts for level in c.comparison_levels])
        for c in settings.comparisons
    ]


def _unquoted(sql: str) -> str:
    return sql.replace('"', "").replace("`", "")


def test_the_spark_bench_uses_the_duckdb_baselines_builder() -> None:
    # a copy of the settings in the Spark script would drift from the baseline's
    assert mpi_splink_spark.splink_settings is mpi_splink.splink_settings
    assert mpi_splink_spark.train is mpi_splink.train


@pytest.mark.parametrize("kind", KINDS)
def test_both_backends_get_the_same_comparisons_and_blocking(kind: str) -> None:
    creator = mpi_splink.splink_settings(kind)
    duckdb = creator.get_settings("duckdb")
    spark = creator.get_settings("spark")
    assert _levels(duckdb) == _levels(spark)
    assert len(duckdb.comparisons) == len(mpi_splink.recipe(kind).comparisons)
    duck_rules = [_unquoted(r.blocking_rule_sql) for r in
                  duckdb._blocking_rules_to_generate_predictions]  # fmt: skip
    spark_rules = [_unquoted(r.blocking_rule_sql) for r in
                   spark._blocking_rules_to_generate_predictions]  # fmt: skip
    assert duck_rules == spark_rules
    assert len(duck_rules) == len(mpi_splink.recipe(kind).predict_rules)


def test_each_backend_gets_its_own_similarity_function() -> None:
    creator = mpi_splink.splink_settings("chinese")

    def name_conditions(dialect: str) -> list[str]:
        name = creator.get_settings(dialect).comparisons[0]
        return [level.sql_condition for level in name.comparison_levels]

    assert any("jaro_winkler_similarity(" in c for c in name_conditions("duckdb"))
    assert any(c.startswith("jaro_winkler(") for c in name_conditions("spark"))
