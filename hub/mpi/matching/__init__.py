"""Matching, pure: one record's features, two records' comparison, a model's decision.

No I/O (an import-linter contract): everything here tests without a database. To *add a
matching feature*, extract it in :mod:`.features` (``MatchFeatures``), compare it in
:mod:`.compare` (a ``ComparisonSpec`` and a level function), and retrain (``hub mpi train``).
"""

from hub.mpi.matching.blocking import BlockingIndex, candidate_pairs, pairs_from_clusters
from hub.mpi.matching.clustering import Metrics, connected_components, pairwise_metrics
from hub.mpi.matching.compare import SPECS, compare, query_keys, record_keys, tf_values
from hub.mpi.matching.features import (
    EmptyRecordError,
    MatchFeatures,
    features_from_patient,
    features_from_row,
)
from hub.mpi.matching.golden import golden_patient
from hub.mpi.matching.household import ceiling, decide
from hub.mpi.matching.identifiers import (
    IdKind,
    InvalidIdError,
    Sex,
    id_distance_kind,
    is_valid,
    make_resident_id,
    parse_id,
)
from hub.mpi.matching.linkage import BatchResult, link_batch
from hub.mpi.matching.model import (
    ComparisonParams,
    ComparisonSpec,
    Decision,
    MatchModel,
    ModelError,
)
from hub.mpi.matching.name_agreement import NameAgreement, compare_names
from hub.mpi.matching.names import NameKeys, name_keys

__all__ = [
    "SPECS", "BatchResult", "BlockingIndex", "ComparisonParams", "ComparisonSpec", "Decision",
    "EmptyRecordError", "IdKind", "InvalidIdError", "MatchFeatures", "MatchModel", "Metrics",
    "ModelError", "NameAgreement", "NameKeys", "Sex", "candidate_pairs", "ceiling", "compare",
    "compare_names", "connected_components", "decide", "features_from_patient",
    "features_from_row", "golden_patient", "id_distance_kind", "is_valid", "link_batch",
    "make_resident_id", "name_keys", "pairs_from_clusters", "pairwise_metrics", "parse_id",
    "query_keys", "record_keys", "tf_values",
]  # fmt: skip
