"""The hub's own reads of the store (``repository.SystemReads``), on the store's tables.

No scopes, no consent filter, no audit: see ``hub.fhir.repository``. Also home of the one
"resources referencing a target" query (:func:`referring_rids`), which the search engine's
``_revinclude``, ``$everything`` and these reads share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session, aliased

from hub.fhir.models import ReferenceIndex, ResourceRow, ResourceVersionRow, TokenIndex
from hub.fhir.search.extract import split_reference
from hub.security.fields import FieldCipher, contains_sealed_values, unseal_resource

_CHUNK = 500  # ids per IN list


def referring_rids(
    source_type: str, params: Collection[str], target_type: str, target_ids: Collection[str]
) -> Select[Any]:
    """The row keys of ``source_type`` resources whose reference parameter (one of ``params``)
    points at ``target_type`` with one of ``target_ids`` (current or deleted rows alike)."""
    return select(ReferenceIndex.rid).where(
        ReferenceIndex.resource_type == source_type,
        ReferenceIndex.param.in_(list(params)),
        ReferenceIndex.target_type == target_type,
        ReferenceIndex.target_id.in_(list(target_ids)),
    )


class StoreSystemReads:
    """``SystemReads`` on the database. With a cipher, protected identifiers come back
    unsealed; without (the consent decisions, which read provisions only), as stored."""

    def __init__(self, session: Session, cipher: FieldCipher | None = None) -> None:
        self.session = session
        self.cipher = cipher

    def _plain(self, content: str) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(content)
        if self.cipher is not None and contains_sealed_values(content):
            return unseal_resource(data, self.cipher)
        return data

    def current(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self.current_many(resource_type, [resource_id]).get(resource_id)

    def current_many(
        self, resource_type: str, resource_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(resource_ids))
        for start in range(0, len(ids), _CHUNK):
            rows = self.session.execute(
                select(ResourceRow.resource_id, ResourceRow.content).where(
                    ResourceRow.resource_type == resource_type,
                    ResourceRow.resource_id.in_(ids[start : start + _CHUNK]),
                    ResourceRow.deleted == false(),
                )
            )
            found.update((i, self._plain(content)) for i, content in rows if content)
        return found

    def previous_version(self, resource: Mapping[str, Any]) -> dict[str, Any] | None:
        version = int((resource.get("meta") or {}).get("versionId") or 1)
        if version <= 1:
            return None
        content = self.session.execute(
            select(ResourceVersionRow.content).where(
                ResourceVersionRow.resource_type == resource.get("resourceType"),
                ResourceVersionRow.resource_id == resource.get("id"),
                ResourceVersionRow.version_id == version - 1,
            )
        ).scalar_one_or_none()
        return None if content is None else self._plain(content)

    def referencing(self, source_type: str, param: str, target: str) -> list[dict[str, Any]]:
        target_type, target_id = split_reference(target)
        if target_type is None:
            return []
        return [r for _, r in self.referencing_any(source_type, param, target_type, [target_id])]

    def referencing_any(
        self, source_type: str, param: str, target_type: str, target_ids: Sequence[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        ids = sorted(set(target_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.session.execute(
                select(ReferenceIndex.target_id, ResourceRow.content)
                .join(ResourceRow, ResourceRow.rid == ReferenceIndex.rid)
                .where(
                    ReferenceIndex.resource_type == source_type,
                    ReferenceIndex.param == param,
                    ReferenceIndex.target_type == target_type,
                    ReferenceIndex.target_id.in_(chunk),
                    ResourceRow.deleted == false(),
                )
                .order_by(ResourceRow.rid)
            )
            found.extend((target, self._plain(content)) for target, content in rows if content)
        return found

    def with_tokens(self, resource_type: str, tokens: Mapping[str, str]) -> list[dict[str, Any]]:
        stmt = select(ResourceRow.content).where(
            ResourceRow.resource_type == resource_type, ResourceRow.deleted == false()
        )
        for param, code in tokens.items():
            token = aliased(TokenIndex)
            stmt = stmt.join(token, token.rid == ResourceRow.rid).where(
                token.resource_type == resource_type, token.param == param, token.code == code
            )
        rows = self.session.execute(stmt.order_by(ResourceRow.rid)).scalars()
        return [self._plain(content) for content in rows if content]

    def ids(self, resource_type: str) -> set[str]:
        rows = self.session.execute(
            select(ResourceRow.resource_id).where(
                ResourceRow.resource_type == resource_type, ResourceRow.deleted == false()
            )
        ).scalars()
        return set(rows)

    def count(self, resource_type: str) -> int:
        return self.session.execute(
            select(func.count())
            .select_from(ResourceRow)
            .where(ResourceRow.resource_type == resource_type, ResourceRow.deleted == false())
        ).scalar_one()

    def first_referrer(self, resource_type: str, resource_id: str) -> str | None:
        """``Type/id`` of one current resource that references this one (itself excluded)."""
        row = self.session.execute(
            select(ResourceRow.resource_type, ResourceRow.resource_id)
            .join(ReferenceIndex, ReferenceIndex.rid == ResourceRow.rid)
            .where(
                ReferenceIndex.target_type == resource_type,
                ReferenceIndex.target_id == resource_id,
                ResourceRow.deleted == false(),
                ~(
                    (ResourceRow.resource_type == resource_type)
                    & (ResourceRow.resource_id == resource_id)
                ),
            )
            .order_by(ResourceRow.rid)
            .limit(1)
        ).first()
        return None if row is None else f"{row[0]}/{row[1]}"
