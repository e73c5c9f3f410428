"""The SQL side of the consent filter: pieces over the store's rows of one type -- whose data a
row is, which sensitivity labels and which origin facility its internal index rows carry -- that
the consent package (``consent.search_filter``) combines with its decisions into one condition
the search adds to its query, so paging and totals count only what the caller may see.

It lives with the store because it is SQL over the store's tables, which no module outside
``hub.fhir`` reads; the consent package decides, this module compiles (Medplum's access policy
compiled into the search query, the same split).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, false, not_, or_, select, true
from sqlalchemy.orm import aliased

from hub.fhir.access import PATIENT
from hub.fhir.models import ReferenceIndex, ResourceRow, TokenIndex
from hub.fhir.search.extract import LABEL_PARAM, ORIGIN_PARAM
from hub.mpi.lookup import linked_patient_ids

# Built once: aliasing costs more Python time than running the small subqueries it serves.
_REF = aliased(ReferenceIndex, name="consent_ref")
_CONSENT = aliased(ReferenceIndex, name="consent_of")
_TOKEN = aliased(TokenIndex, name="consent_token")


class PatientQuery:
    """SQL pieces over ``fhir_resource`` rows of one type: whose data, labelled how, from where."""

    def __init__(self, resource_type: str, compartment: tuple[str, ...]) -> None:
        self.resource_type = resource_type
        self.compartment = compartment
        self.known_consented: list[str] | None = None  # every consented patient of the matches

    @staticmethod
    def _has_consent(patient_id: Any) -> ColumnElement[bool]:
        """A consent of the person: written against this record or one linked to it."""
        return exists(
            select(_CONSENT.rid).where(
                _CONSENT.resource_type == "Consent",
                _CONSENT.param == "patient",
                _CONSENT.target_type == PATIENT,
                or_(
                    _CONSENT.target_id == patient_id,
                    _CONSENT.target_id.in_(linked_patient_ids(patient_id)),
                ),
            )
        )

    def consented_among(self, where: Sequence[Any]) -> Any:
        """The ids of the patients with consents whose data is among the rows ``where`` matches."""
        if self.resource_type == PATIENT:
            return (
                select(ResourceRow.resource_id)
                .where(*where, self._has_consent(ResourceRow.resource_id))
                .distinct()
            )
        return (
            select(_REF.target_id)
            .where(
                _REF.rid.in_(select(ResourceRow.rid).where(*where)),
                _REF.param.in_(self.compartment),
                _REF.target_type == PATIENT,
                self._has_consent(_REF.target_id),
            )
            .distinct()
        )

    def _without_consent(self, target: Any) -> ColumnElement[bool]:
        if self.known_consented is None:
            return not_(self._has_consent(target))
        return target.not_in(self.known_consented) if self.known_consented else true()

    def refers_to(
        self, patients: list[str], also_unconsented: bool, also_consented: bool = False
    ) -> ColumnElement[bool]:
        """Rows about one of ``patients``, or if asked about any patient without (or with) a
        consent."""

        def who(target: Any) -> ColumnElement[bool]:
            if also_unconsented and also_consented:
                return true()
            chosen: ColumnElement[bool] = target.in_(patients) if patients else false()
            if also_unconsented:
                chosen = or_(chosen, self._without_consent(target))
            if also_consented:
                chosen = or_(chosen, self._has_consent(target))
            return chosen

        if self.resource_type == PATIENT:
            return who(ResourceRow.resource_id)
        return exists(
            select(_REF.rid).where(
                _REF.rid == ResourceRow.rid,
                _REF.param.in_(self.compartment),
                _REF.target_type == PATIENT,
                who(_REF.target_id),
            )
        )

    def about_no_patient(self) -> ColumnElement[bool]:
        if self.resource_type == PATIENT:
            return false()
        return not_(
            exists(
                select(_REF.rid).where(
                    _REF.rid == ResourceRow.rid,
                    _REF.param.in_(self.compartment),
                    _REF.target_type == PATIENT,
                )
            )
        )

    @staticmethod
    def id_in(resource_ids: Sequence[str]) -> ColumnElement[bool]:
        return ResourceRow.resource_id.in_(list(resource_ids))

    @staticmethod
    def id_not_in(resource_ids: Sequence[str]) -> ColumnElement[bool]:
        return ResourceRow.resource_id.not_in(list(resource_ids))

    @staticmethod
    def has_label(labels: Sequence[str]) -> ColumnElement[bool]:
        return exists(
            select(_TOKEN.rid).where(
                _TOKEN.rid == ResourceRow.rid,
                _TOKEN.param == LABEL_PARAM,
                _TOKEN.code.in_(list(labels)),
            )
        )

    @staticmethod
    def recorded_by(facility: str) -> ColumnElement[bool]:
        return exists(
            select(_TOKEN.rid).where(
                _TOKEN.rid == ResourceRow.rid,
                _TOKEN.param == ORIGIN_PARAM,
                _TOKEN.code == facility,
            )
        )
