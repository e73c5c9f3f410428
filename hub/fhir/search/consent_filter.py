"""The SQL side of the consent filter: pieces over the store's rows of one type -- whose data a
row is, which sensitivity labels and which origin facility its internal index rows carry -- that
the consent package (``consent.search_filter``) combines with its decisions into one condition
the search adds to its query, so paging and totals count only what the caller may see.

Two forms of the same pieces, chosen by the filter for the search's breadth:

- *row tests* (``refers_to``, ``has_label``, ...): an ``EXISTS`` over the index rows of each
  searched row, cheap for the few rows of a narrow search (one patient's data);
- *row sets* (``rows_about``, ``labelled``, ...): uncorrelated subqueries the filter combines
  into one set of denied rows, which the database builds once per query and probes by hash
  (``rid NOT IN (...)``), for a broad search where tests on every row would cost the most.

A list of patients travels as one array parameter on PostgreSQL, not one parameter per value.

It lives with the store because it is SQL over the store's tables, which no module outside
``hub.fhir`` reads; the consent package decides, this module compiles (Medplum's access policy
compiled into the search query, the same split).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    any_,
    bindparam,
    except_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from hub.fhir.access import PATIENT
from hub.fhir.models import ReferenceIndex, ResourceRow, TokenIndex
from hub.fhir.search.extract import LABEL_PARAM, ORIGIN_PARAM

# Built once: aliasing costs more Python time than running the small subqueries it serves.
_REF = aliased(ReferenceIndex, name="consent_ref")
_TOKEN = aliased(TokenIndex, name="consent_token")
_ROW = aliased(ResourceRow, name="consent_row")

Rows = Select[Any] | CompoundSelect[Any]  # SQL selecting one column: rids
MAX_LISTED_ROWS = 50_000  # denied rows passed as one array; beyond, the set stays SQL


def _rids(rows: Rows) -> Select[Any]:
    """``rows`` as a plain SELECT (SQLite nests no compound SELECT in another)."""
    if isinstance(rows, Select):
        return rows
    return select(rows.subquery().c[0])


class PatientQuery:
    """SQL pieces over ``fhir_resource`` rows of one type: whose data, labelled how, from where.

    ``consented`` is every patient with a consent that can reach the caller, as a list (each
    decided) or, past the filter's limit, as a subquery (not decided one by one).
    """

    def __init__(self, resource_type: str, compartment: tuple[str, ...], dialect: str) -> None:
        self.resource_type = resource_type
        self.compartment = compartment
        self.dialect = dialect
        self.consented: list[str] | Any = []

    def values_in(self, column: Any, values: Sequence[str], *, joined: bool = False) -> Any:
        """``column`` is one of ``values``; on PostgreSQL one array parameter, unnested into a
        relation when ``joined`` (a set built once, by hash) or else tested per row."""
        if not values:
            return false()
        if self.dialect != "postgresql":
            return column.in_(list(values))
        array = bindparam(None, list(values), type_=ARRAY(String()))
        if joined:
            return column.in_(select(func.unnest(array)).scalar_subquery())
        return column == any_(array)

    def _who(
        self, target: Any, patients: Sequence[str], unconsented: bool, consented: bool, joined: bool
    ) -> Any:
        """``target`` is one of ``patients``, or if asked any patient without (with) a consent."""
        if unconsented and consented:
            return true()
        chosen = self.values_in(target, patients, joined=joined)
        if isinstance(self.consented, list):
            among = self.values_in(target, self.consented, joined=joined)
        else:
            among = target.in_(self.consented)
        if unconsented:
            chosen = or_(chosen, not_(among))
        if consented:
            chosen = or_(chosen, among)
        return chosen

    def patients_matched(self, where: Sequence[Any]) -> Any:
        """SQL: the ids of the patients whose data is among the rows ``where`` matches."""
        if self.resource_type == PATIENT:
            return select(ResourceRow.resource_id).where(*where)
        return select(_REF.target_id).where(
            _REF.rid.in_(select(ResourceRow.rid).where(*where)),
            _REF.param.in_(self.compartment),
            _REF.target_type == PATIENT,
        )

    @staticmethod
    def count_matched(session: Session, where: Sequence[Any], limit: int) -> int:
        """How many rows ``where`` matches, counting no further than ``limit``."""
        found = select(ResourceRow.rid).where(*where).limit(limit).subquery()
        return int(session.execute(select(func.count()).select_from(found)).scalar_one())

    # -- row tests: one EXISTS per searched row -------------------------------------------
    def refers_to(
        self, patients: Sequence[str], also_unconsented: bool, also_consented: bool = False
    ) -> ColumnElement[bool]:
        """The row is about one of ``patients``, or if asked about any patient without (or
        with) a consent."""
        if self.resource_type == PATIENT:
            itself: ColumnElement[bool] = self._who(
                ResourceRow.resource_id, patients, also_unconsented, also_consented, False
            )
            return itself
        return exists(
            select(_REF.rid).where(
                _REF.rid == ResourceRow.rid,
                _REF.param.in_(self.compartment),
                _REF.target_type == PATIENT,
                self._who(_REF.target_id, patients, also_unconsented, also_consented, False),
            )
        )

    def id_in(self, resource_ids: Sequence[str]) -> ColumnElement[bool]:
        return self.values_in(ResourceRow.resource_id, resource_ids)  # type: ignore[no-any-return]

    def id_not_in(self, resource_ids: Sequence[str]) -> ColumnElement[bool]:
        return not_(self.id_in(resource_ids))

    @staticmethod
    def _tagged_row(param: str, codes: Sequence[str]) -> ColumnElement[bool]:
        return exists(
            select(_TOKEN.rid).where(
                _TOKEN.rid == ResourceRow.rid, _TOKEN.param == param, _TOKEN.code.in_(list(codes))
            )
        )

    def has_label(self, labels: Sequence[str]) -> ColumnElement[bool]:
        return self._tagged_row(LABEL_PARAM, labels)

    def recorded_by(self, facility: str) -> ColumnElement[bool]:
        return self._tagged_row(ORIGIN_PARAM, [facility])

    # -- row sets: built once per query ---------------------------------------------------
    @staticmethod
    def matched(where: Sequence[Any]) -> Select[Any]:
        """The rows the search's own conditions match: bounds the sets that would otherwise
        grow with the whole table (rows about any patient without a consent, labelled rows)."""
        return select(ResourceRow.rid).where(*where).correlate(None)

    def rows_about(
        self,
        patients: Sequence[str],
        also_unconsented: bool = False,
        also_consented: bool = False,
        within: Rows | None = None,
    ) -> Select[Any]:
        """Rows (``within`` these) about one of ``patients``, or if asked about any patient
        without (or with) a consent."""
        if self.resource_type == PATIENT:
            who = self._who(_ROW.resource_id, patients, also_unconsented, also_consented, True)
            found = select(_ROW.rid).where(_ROW.resource_type == PATIENT, who)
            return found if within is None else found.where(_ROW.rid.in_(_rids(within)))
        who = self._who(_REF.target_id, patients, also_unconsented, also_consented, True)
        found = select(_REF.rid).where(
            _REF.resource_type == self.resource_type,
            _REF.param.in_(self.compartment),
            _REF.target_type == PATIENT,
            who,
        )
        return found if within is None else found.where(_REF.rid.in_(_rids(within)))

    def _tagged(self, param: str, codes: Sequence[str], within: Rows | None) -> Select[Any]:
        found = select(_TOKEN.rid).where(
            _TOKEN.resource_type == self.resource_type,
            _TOKEN.param == param,
            _TOKEN.code.in_(list(codes)),
        )
        return found if within is None else found.where(_TOKEN.rid.in_(_rids(within)))

    def labelled(self, labels: Sequence[str], within: Rows | None = None) -> Select[Any]:
        return self._tagged(LABEL_PARAM, labels, within)

    def recorded_among(self, facility: str, within: Rows) -> Select[Any]:
        """The rows (``within`` these) ``facility`` recorded."""
        return self._tagged(ORIGIN_PARAM, [facility], within)

    @staticmethod
    def any_of(*rows: Rows) -> Rows:
        return rows[0] if len(rows) == 1 else union(*(_rids(r) for r in rows))

    @staticmethod
    def but_not(first: Rows, second: Rows) -> Rows:
        return except_(_rids(first), _rids(second))

    def none_of(self, denied: Rows, session: Session) -> ColumnElement[bool]:
        """The searched row is not one of ``denied``. On PostgreSQL the set is built once here
        and travels as one array (the page and the total then share it), unless it is large."""
        if self.dialect != "postgresql":
            return ResourceRow.rid.not_in(_rids(denied))
        rids = session.execute(_rids(denied).limit(MAX_LISTED_ROWS + 1)).scalars().all()
        if len(rids) > MAX_LISTED_ROWS:
            return ResourceRow.rid.not_in(_rids(denied))
        array = bindparam(None, list(rids), type_=ARRAY(BigInteger()))
        return ResourceRow.rid.not_in(select(func.unnest(array)).scalar_subquery())
