"""Decisions of a registration batch (hub.mpi.registration.batch_decisions): pure, no database."""

from __future__ import annotations

from hub.mpi.matching.compare import query_keys, record_keys
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.model import Decision
from hub.mpi.registration.batch_decisions import Pending, StoredSource, decide_batch
from hub.mpi.training.registry import packaged_model

ZHANG = {"family_name": "欧阳", "given_name": "晓岚", "birth_date": "1980-03-02",
         "id_number": "420502198003020117", "gender": "女", "phone": "13900001111"}  # fmt: skip
WANG = {"family_name": "司马", "given_name": "浩然", "birth_date": "1966-11-09",
        "gender": "男", "phone": "13900002222"}  # fmt: skip


def _pending(features: MatchFeatures) -> Pending:
    # the real keys, unhashed: decide_batch only compares them for equality
    return Pending(features, list(query_keys(features)), list(record_keys(features)))


def test_a_record_links_to_an_earlier_record_of_the_same_batch() -> None:
    model = packaged_model()
    work = [_pending(features_from_row(r)) for r in (ZHANG, WANG, ZHANG)]
    choices = decide_batch(model, work, [[], [], []], {})
    assert [c.decision for c in choices] == [Decision.NEW, Decision.NEW, Decision.LINK]
    assert [c.person for c in choices] == [-1, -2, -1]
    assert choices[2].top is not None and choices[2].top.source == -1  # the record at position 0


def test_a_stored_candidate_is_preferred_as_the_person_and_shared_with_the_batch() -> None:
    model = packaged_model()
    zhang = features_from_row(ZHANG)
    stored = {7: StoredSource(person_id=42, enterprise_id="YC000000000042", features=zhang)}
    work = [_pending(zhang), _pending(zhang)]
    choices = decide_batch(model, work, [[7], [7]], stored)
    assert [(c.decision, c.person) for c in choices] == [(Decision.LINK, 42)] * 2
    assert choices[0].top is not None and choices[0].top.enterprise_id == "YC000000000042"
    assert len({o.person for o in choices[1].options}) == len(choices[1].options)  # best per person


def test_records_without_shared_keys_are_never_compared() -> None:
    model = packaged_model()
    work = [_pending(features_from_row(ZHANG)), _pending(features_from_row(WANG))]
    choices = decide_batch(model, work, [[], []], {})
    assert [c.options for c in choices] == [[], []]
