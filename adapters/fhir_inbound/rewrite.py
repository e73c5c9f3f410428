"""Rewriting a facility's request so its local identifiers carry the facility's namespace.

Everything is rewritten in place (the parsed request body belongs to the request) and pure:

* ``identifier`` of the resource and of its ``contained`` resources;
* logical references (``{"type": "Patient", "identifier": {...}}``);
* conditional references (``{"reference": "Patient?identifier=MRN-1"}``);
* conditional criteria: ``If-None-Exist``, the query of a conditional update or delete, and in
  a Bundle ``request.ifNoneExist`` and the ``request.url`` of PUT, PATCH and DELETE entries.
  GET entries are searches, not conditions, and are left as sent.

In criteria, ``identifier=MRN-1`` (any system) and ``identifier=|MRN-1`` (no system) both
become ``identifier=<namespace>|MRN-1``: the facility meant its own number. Besides
``identifier``, the chains ``patient.identifier`` and ``<ref>:<Type>.identifier`` are
qualified for the type they name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from adapters.fhir_inbound.identifiers import LocalRule

Query = list[tuple[str, str]]
_CONDITIONAL_METHODS = frozenset({"PUT", "PATCH", "DELETE"})


class Qualifier:
    """Qualifies one facility's local identifiers; ``Qualifier(None)`` changes nothing."""

    __slots__ = ("rule",)

    def __init__(self, rule: LocalRule | None) -> None:
        self.rule = rule

    # -- resources ---------------------------------------------------------------------------

    def resource(self, resource_type: str, resource: Any) -> Any:
        """The resource, its local identifiers and conditional references qualified."""
        if self.rule is None or not isinstance(resource, dict):
            return resource
        self._identifiers(resource_type, resource)
        for contained in resource.get("contained") or []:
            if isinstance(contained, dict) and isinstance(contained.get("resourceType"), str):
                self._identifiers(contained["resourceType"], contained)
        self._references(resource)
        return resource

    def _identifiers(self, resource_type: str, resource: dict[str, Any]) -> None:
        assert self.rule is not None
        found = resource.get("identifier")
        for identifier in found if isinstance(found, list) else [found]:
            if isinstance(identifier, dict):
                self.rule.qualify(resource_type, identifier)

    def _references(self, node: Any) -> None:
        assert self.rule is not None
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and "?" in ref:
                node["reference"] = self.url(ref)
            target, logical = node.get("type"), node.get("identifier")
            if isinstance(target, str) and isinstance(logical, dict) and "reference" not in node:
                self.rule.qualify(target, logical)
            for key, value in node.items():
                if key != "contained":  # contained resources were done by resource()
                    self._references(value)
        elif isinstance(node, list):
            for item in node:
                self._references(item)

    # -- criteria ----------------------------------------------------------------------------

    def query(self, resource_type: str, query: Query) -> Query:
        """Search criteria of a conditional operation on ``resource_type``, qualified."""
        if self.rule is None:
            return query
        return [(name, self._criterion(resource_type, name, value)) for name, value in query]

    def criteria(self, resource_type: str, criteria: str) -> str:
        """``identifier=x`` or ``Type?identifier=x`` (If-None-Exist, ifNoneExist), qualified."""
        if self.rule is None:
            return criteria
        head, separator, tail = criteria.partition("?")
        if separator and head in ("", resource_type):
            return f"{head}?{self._query_string(resource_type, tail)}"
        return self._query_string(resource_type, criteria)

    def url(self, url: str) -> str:
        """``Type?criteria`` (a conditional reference or request URL), qualified."""
        if self.rule is None:
            return url
        path, separator, query = url.partition("?")
        resource_type = path.rstrip("/").rsplit("/", 1)[-1]
        if not separator or not resource_type:
            return url
        return f"{path}?{self._query_string(resource_type, query)}"

    def _query_string(self, resource_type: str, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        qualified = self.query(resource_type, pairs)
        if qualified == pairs:
            return query  # untouched criteria keep their exact spelling
        return "&".join(f"{quote(n, safe=':.-_')}={quote(v, safe='/:|,')}" for n, v in qualified)

    def _criterion(self, resource_type: str, name: str, value: str) -> str:
        assert self.rule is not None
        target = _identifier_target(resource_type, name)
        if target is None:
            return value
        out = []
        for token in value.split(","):
            system, bar, code = token.rpartition("|") if "|" in token else ("", "", token)
            if code and self.rule.is_local(system):
                system, code = self.rule.system_for(target, code)
                token = f"{system}|{code}"
            elif bar:
                token = f"{system}|{code}"
            out.append(token)
        return ",".join(out)

    # -- bundles -----------------------------------------------------------------------------

    def bundle(self, bundle: Any) -> Any:
        """A batch or transaction Bundle, every entry qualified; anything else as sent."""
        if self.rule is None or not isinstance(bundle, dict):
            return bundle
        entries = bundle.get("entry")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            request = entry.get("request")
            request = request if isinstance(request, dict) else {}
            url = request.get("url")
            resource = entry.get("resource")
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                self.resource(resource["resourceType"], resource)
            if not isinstance(url, str):
                continue
            resource_type = url.lstrip("/").partition("?")[0].split("/", 1)[0]
            if request.get("method") in _CONDITIONAL_METHODS and "?" in url:
                request["url"] = self.url(url)
            if isinstance(request.get("ifNoneExist"), str):
                request["ifNoneExist"] = self.criteria(resource_type, request["ifNoneExist"])
        return bundle


def _identifier_target(resource_type: str, name: str) -> str | None:
    """The type whose identifier a search parameter names (``None``: not an identifier)."""
    if name == "identifier":
        return resource_type
    head, dot, tail = name.rpartition(".")
    if not dot or tail != "identifier" or "." in head:
        return None
    if ":" in head:
        return head.split(":", 1)[1] or None
    return "Patient" if head == "patient" else None
