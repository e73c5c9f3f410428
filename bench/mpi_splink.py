"""The Splink baseline of the MPI benchmarks: Splink (DuckDB) as a careful user would run it.

Per data set: Fellegi-Sunter comparisons suited to its columns (names with Jaro-Winkler levels
and term-frequency adjustment, dates of birth, identifiers with Damerau-Levenshtein), several
OR-ed blocking rules for prediction, the prior from deterministic rules at an assumed recall of
0.8, u from random sampling, two EM passes with different blocking rules, ``predict`` at 0.5
(our lower threshold) and connected-component clustering at 0.99 (our upper threshold) — every
threshold fixed in advance, never tuned on the truth. Clustering at 0.95 is reported too. The
truth table is registered only after Splink has finished, to measure it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from mpi_data import LinkageSet
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.splink_dataframe import SplinkDataFrame

LINK_THRESHOLD = 0.99  # = hub.mpi.training.from_features.UPPER_THRESHOLD
ALSO_THRESHOLD = 0.95
# = hub.mpi.training.from_features.LOWER_THRESHOLD: pairs in [0.5, 0.99) are "review"
PREDICT_THRESHOLD = 0.5
PRIOR_RECALL = 0.8
U_MAX_PAIRS = 5e6
VERSION = splink.__version__ if hasattr(splink, "__version__") else "?"


@dataclass
class SplinkRun:
    clusters: list[int]  # at LINK_THRESHOLD
    clusters_also: list[int]  # at ALSO_THRESHOLD
    review_share: float  # records whose best pair lies in [0.5, 0.99)
    blocking_recall: float
    blocked_pairs: int
    predicted_pairs: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Recipe:
    comparisons: list[Any]
    predict_rules: list[Any]
    prior_rules: list[Any]
    em_rules: list[Any]


def recipe(kind: str) -> _Recipe:
    if kind == "febrl":  # after Splink's own FEBRL4 example
        return _Recipe(
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison(
                    "date_of_birth",
                    input_is_string=True,
                    datetime_format="%Y%m%d",
                    invalid_dates_as_null=True,
                ),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                    term_frequency_adjustments=True
                ),  # not the other address columns: they move with the postcode
            ],
            predict_rules=[
                block_on("given_name", "surname"),
                block_on("surname", "date_of_birth"),
                block_on("given_name", "date_of_birth"),
                block_on("soc_sec_id"),
                block_on("postcode", "street_number"),
                block_on("surname", "postcode"),
            ],
            prior_rules=[
                block_on("soc_sec_id"),
                block_on("given_name", "surname", "date_of_birth"),
            ],
            em_rules=[block_on("date_of_birth"), block_on("postcode")],
        )
    if kind == "fake1000":  # after Splink's deduplication tutorial on this data set
        return _Recipe(
            comparisons=[
                cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison("dob", input_is_string=True),
                cl.ExactMatch("city").configure(term_frequency_adjustments=True),
                cl.EmailComparison("email"),
            ],
            predict_rules=[
                block_on("first_name", "surname"),
                block_on("surname", "dob"),
                block_on("first_name", "dob"),
                block_on("email"),
            ],
            prior_rules=[block_on("first_name", "surname", "dob"), block_on("email")],
            em_rules=[block_on("first_name", "surname"), block_on("dob")],
        )
    if kind == "chinese":
        return _Recipe(
            comparisons=[
                cl.CustomComparison(
                    comparison_levels=[
                        cll.NullLevel("name_pinyin"),
                        cll.ExactMatchLevel("name").configure(tf_adjustment_column="name"),
                        cll.ExactMatchLevel("name_pinyin"),
                        cll.JaroWinklerLevel("name_pinyin", 0.9),
                        cll.ElseLevel(),
                    ],
                    output_column_name="name",
                ),
                cl.DateOfBirthComparison("birth_date", input_is_string=True),
                cl.DamerauLevenshteinAtThresholds("id_number", [1]),
                cl.ExactMatch("phone"),
                cl.ExactMatch("gender"),
                cl.JaroWinklerAtThresholds("address", [0.9, 0.8]),
            ],
            predict_rules=[
                block_on("id_number"),
                block_on("phone"),
                block_on("name_pinyin", "substr(birth_date, 1, 4)"),
                block_on("birth_date", "substr(name_pinyin, 1, 2)"),
            ],
            prior_rules=[block_on("id_number"), block_on("name", "birth_date")],
            em_rules=[block_on("id_number"), block_on("name_pinyin", "birth_date")],
        )
    raise ValueError(f"no Splink recipe for {kind}")


def splink_settings(kind: str, *, link_only: bool = False) -> SettingsCreator:
    """The settings of a data set's recipe: the same for every backend (DuckDB, Spark), which
    each turn them into their own SQL dialect."""
    r = recipe(kind)
    return SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=r.comparisons,
        blocking_rules_to_generate_predictions=r.predict_rules,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def train(linker: Linker, kind: str) -> None:
    """The prior from deterministic rules, u from random sampling, then the EM passes."""
    r = recipe(kind)
    linker.training.estimate_probability_two_random_records_match(
        r.prior_rules, recall=PRIOR_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
    for rule in r.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)


def predict(linker: Linker) -> SplinkDataFrame:
    return linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)


def cluster(linker: Linker, predictions: SplinkDataFrame) -> SplinkDataFrame:
    return linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=LINK_THRESHOLD
    )


def _table(data: LinkageSet, rows: list[int]) -> pa.Table:
    columns: dict[str, Any] = {k: [v[i] for i in rows] for k, v in data.columns.items()}
    columns["unique_id"] = pa.array(rows, type=pa.int64())
    return pa.table(columns)


def run_splink(
    data: LinkageSet,
    *,
    link_only: bool = False,
    after: Callable[[Linker, DuckDBAPI, Any], None] | None = None,
) -> SplinkRun:
    """Train, predict and cluster with Splink; measure against the truth afterwards.
    ``after(linker, api, records)`` runs untimed once clustering is done (before the DuckDB
    connection closes)."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    con = duckdb.connect()
    api = DuckDBAPI(con)
    n = len(data)
    if link_only:
        assert data.source_file is not None
        files = data.source_file
        tables = [
            api.register(
                _table(data, [i for i in range(n) if files[i] == f]), table_name=f"file_{f}"
            )
            for f in (0, 1)
        ]
    else:
        tables = [api.register(_table(data, list(range(n))), table_name="records")]
    seconds["prepare"] = time.perf_counter() - start
    linker = Linker(
        tables if link_only else tables[0],
        splink_settings(data.kind, link_only=link_only),
        log_level=logging.ERROR,
    )
    stage = time.perf_counter()
    train(linker, data.kind)
    seconds["train"] = time.perf_counter() - stage
    stage = time.perf_counter()
    predictions = predict(linker)
    seconds["predict"] = time.perf_counter() - stage
    stage = time.perf_counter()
    clustered = cluster(linker, predictions)
    labels = _labels(con, clustered.physical_name, n)
    seconds["cluster"] = time.perf_counter() - stage
    seconds["total"] = time.perf_counter() - start
    # -- not timed: a second clustering, the review share and blocking recall ------------------
    also = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=ALSO_THRESHOLD
    )
    review = con.execute(f"""
        with e as (select unique_id_l as id, match_probability as p from {predictions.physical_name}
                   union all
                   select unique_id_r, match_probability from {predictions.physical_name})
        select count(*) from (select id, max(p) as best from e group by id)
        where best >= {PREDICT_THRESHOLD} and best < {LINK_THRESHOLD}
    """).fetchall()  # fmt: skip
    predicted = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()
    recall, blocked = _blocking_recall(con, linker, data.truth)
    labels_also = _labels(con, also.physical_name, n)
    if after is not None:
        after(linker, api, tables[0])
    con.close()
    return SplinkRun(
        clusters=labels,
        clusters_also=labels_also,
        review_share=review[0][0] / n,
        blocking_recall=recall,
        blocked_pairs=blocked,
        predicted_pairs=predicted[0][0],
        seconds=seconds,
    )


def _labels(con: duckdb.DuckDBPyConnection, table: str, n: int) -> list[int]:
    rows = con.execute(f"select unique_id, cluster_id from {table}").fetchall()
    return labels_from([{"unique_id": u, "cluster_id": c} for u, c in rows], n)


def labels_from(rows: list[dict[str, Any]], n: int) -> list[int]:
    names: dict[str, int] = {}
    labels = [-1] * n
    for row in rows:
        labels[int(row["unique_id"])] = names.setdefault(str(row["cluster_id"]), len(names))
    for i in range(n):  # a record Splink did not return stays alone
        if labels[i] < 0:
            labels[i] = len(names) + i
    return labels


def _blocking_recall(
    con: duckdb.DuckDBPyConnection, linker: Linker, truth: list[int]
) -> tuple[float, int]:
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    con.register("bench_truth", pa.table({"id": pa.array(range(len(truth)), pa.int64()),
                                          "entity": pa.array(truth, pa.int64())}))  # fmt: skip
    key = "cast(regexp_extract(cast({} as varchar), '(\\d+)$') as bigint)"
    found = con.execute(f"""
        select count(*), count(*) filter (where t1.entity = t2.entity)
        from {blocked.physical_name} b
        join bench_truth t1 on t1.id = {key.format("b.join_key_l")}
        join bench_truth t2 on t2.id = {key.format("b.join_key_r")}
    """).fetchall()  # fmt: skip
    total, hits = found[0]
    true_pairs = sum(k * (k - 1) // 2 for k in Counter(truth).values())
    return (hits / true_pairs if true_pairs else 1.0), total
