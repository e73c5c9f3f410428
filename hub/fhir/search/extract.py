"""Extraction of search-index values from a resource, at write time.

Pure: takes the plaintext resource and its ResourceDef, returns the rows to index. Protected
identifiers and phone numbers are indexed by their blind index only (hub.security.fields).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from consent.pdp import origin_facility
from consent.sensitivity import classify
from hub.fhir.registry import ParamType, ResourceDef, SearchParam
from hub.fhir.search.dates import MAX_DT, MIN_DT, DateFormatError, date_range
from hub.security.fields import (
    PROTECTED_IDENTIFIER_SYSTEMS,
    PROTECTED_TELECOM_SYSTEMS,
    FieldCipher,
    identifier_blind_index,
    phone_blind_index,
)

MAX_INDEXED_LEN = 255
# Index rows no search parameter exposes, written for the consent filter in SQL
# (consent.enforcement): the facility in meta.source, and the sensitivity labels.
ORIGIN_PARAM = "_hub-origin"
LABEL_PARAM = "_hub-label"
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# ASCII and the CJK Unified Ideographs (and Extension A): unchanged by NFKD, never combining.
_NFKD_STABLE = re.compile(r"[\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff]*")
_DOTS = re.compile(r"\.(?![^\[]*\])")  # the dots between steps, not those in a filter's value
_STEP = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<key>\w+)=(?P<value>[^\]]+)\])?$")


@dataclass
class IndexRows:
    tokens: list[tuple[str, str | None, str]] = field(default_factory=list)  # param, system, code
    strings: list[tuple[str, str, str]] = field(default_factory=list)  # param, norm, exact
    dates: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    references: list[tuple[str, str | None, str]] = field(default_factory=list)  # param, type, id
    quantities: list[tuple[str, float, str | None, str | None]] = field(default_factory=list)


def normalise_string(value: str) -> str:
    """Case- and accent-insensitive form used for string search (Hanzi pass unchanged)."""
    if _NFKD_STABLE.fullmatch(value):
        stripped = value  # NFKD leaves these alone and none is a combining mark
    else:
        decomposed = unicodedata.normalize("NFKD", value)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()[:MAX_INDEXED_LEN]


@lru_cache(maxsize=4096)
def _parse_path(path: str) -> tuple[tuple[str, str | None, str | None], ...]:
    steps = []
    for part in _DOTS.split(path):
        match = _STEP.match(part)
        if not match:
            raise ValueError(f"bad search path step {part!r} in {path!r}")
        steps.append((match["name"], match["key"], match["value"]))
    return tuple(steps)


def resolve_path(resource: dict[str, Any], path: str) -> list[Any]:
    nodes: list[Any] = [resource]
    for name, key, wanted in _parse_path(path):
        found: list[Any] = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            value = node.get(name)
            if value is None:
                continue
            items = value if isinstance(value, list) else [value]
            if key is not None:
                items = [i for i in items if isinstance(i, dict) and i.get(key) == wanted]
            found.extend(items)
        nodes = found
    return nodes


def _tokens(node: Any, path: str, cipher: FieldCipher) -> Iterator[tuple[str | None, str]]:
    if isinstance(node, bool):
        yield None, "true" if node else "false"
    elif path.endswith("DateTime") and isinstance(node, str):
        yield None, "true"  # a token over a dateTime means "present" (Patient.deceased)
    elif isinstance(node, str | int | float):
        yield None, str(node)
    elif isinstance(node, dict):
        if "coding" in node:
            for coding in node.get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    yield coding.get("system"), str(coding["code"])
        elif "code" in node and not isinstance(node.get("code"), dict):
            yield node.get("system"), str(node["code"])
        elif "value" in node and isinstance(node["value"], str):
            value = node["value"]
            system = node.get("system")
            is_contact = "telecom" in path or "phone" in path or "email" in path
            if is_contact:
                if system in PROTECTED_TELECOM_SYSTEMS:
                    yield None, phone_blind_index(cipher, value)
                else:
                    yield None, value
            elif system in PROTECTED_IDENTIFIER_SYSTEMS:
                yield system, identifier_blind_index(cipher, value)
            else:
                yield system, value


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        parts: list[str] = []
        for key in ("text", "family", "city", "district", "state", "postalCode", "country"):
            value = node.get(key)
            if isinstance(value, str):
                parts.append(value)
        for key in ("given", "prefix", "suffix", "line"):
            values = node.get(key)
            if isinstance(values, list):
                parts.extend(v for v in values if isinstance(v, str))
        yield from parts
        family, given = node.get("family"), node.get("given")
        if isinstance(family, str) and isinstance(given, list) and given:
            joined = "".join(g for g in given if isinstance(g, str))
            # Chinese full names are written family-first without a space: 张伟.
            if _CJK.search(family):
                yield family + joined
            else:
                yield " ".join([*given, family])


def _dates(node: Any) -> Iterator[tuple[datetime, datetime]]:
    try:
        if isinstance(node, str):
            yield date_range(node)
        elif isinstance(node, dict) and ("start" in node or "end" in node):
            low = date_range(node["start"])[0] if node.get("start") else MIN_DT
            high = date_range(node["end"])[1] if node.get("end") else MAX_DT
            yield low, high
    except DateFormatError:
        return  # validation already rejected real errors; skip what we cannot range


def _references(node: Any, base_url: str) -> Iterator[tuple[str | None, str]]:
    if isinstance(node, str):  # canonical
        yield None, node[:MAX_INDEXED_LEN]
        return
    if not isinstance(node, dict) or not isinstance(node.get("reference"), str):
        return
    yield split_reference(node["reference"], base_url)


def split_reference(reference: str, base_url: str = "") -> tuple[str | None, str]:
    """``Patient/1`` -> (Patient, 1); a foreign absolute URL keeps its type and the whole URL."""
    ref = reference
    if base_url and ref.startswith(base_url.rstrip("/") + "/"):
        ref = ref[len(base_url.rstrip("/")) + 1 :]
    if "/_history/" in ref:
        ref = ref.split("/_history/")[0]
    parts = ref.split("/")
    if len(parts) == 2 and "://" not in ref and not ref.startswith("urn:"):
        return parts[0], parts[1]
    if "://" in ref and len(parts) >= 2:
        return parts[-2], ref[:MAX_INDEXED_LEN]
    return None, ref[:MAX_INDEXED_LEN]


def _quantities(node: Any) -> Iterator[tuple[float, str | None, str | None]]:
    if isinstance(node, int | float) and not isinstance(node, bool):
        yield float(node), None, None
    elif isinstance(node, dict) and isinstance(node.get("value"), int | float):
        yield float(node["value"]), node.get("system"), node.get("code") or node.get("unit")


def _extract_param(
    rows: IndexRows, resource: dict[str, Any], param: SearchParam, cipher: FieldCipher, base: str
) -> None:
    tokens_before = len(rows.tokens)
    for path in param.paths:
        for node in resolve_path(resource, path):
            if param.type in (ParamType.TOKEN, ParamType.URI):
                for system, code in _tokens(node, path, cipher):
                    rows.tokens.append((param.name, system, code[:MAX_INDEXED_LEN]))
            elif param.type is ParamType.STRING:
                for text in _strings(node):
                    rows.strings.append(
                        (param.name, normalise_string(text), text[:MAX_INDEXED_LEN])
                    )
            elif param.type is ParamType.DATE:
                for low, high in _dates(node):
                    rows.dates.append((param.name, low, high))
            elif param.type is ParamType.REFERENCE:
                for target_type, target_id in _references(node, base):
                    if param.targets and target_type and target_type not in param.targets:
                        continue  # e.g. Appointment.patient shares its path with actor
                    rows.references.append((param.name, target_type, target_id))
            elif param.type in (ParamType.QUANTITY, ParamType.NUMBER):
                for value, q_system, q_code in _quantities(node):
                    rows.quantities.append((param.name, value, q_system, q_code))
    if param.absent is not None and len(rows.tokens) == tokens_before:
        rows.tokens.append((param.name, None, param.absent))


def extract_values(
    resource: dict[str, Any], params: Iterable[SearchParam], base_url: str = ""
) -> IndexRows:
    """The index rows of ``params`` alone (no token: those may need the cipher), for a
    migration that indexes a parameter added to resources already stored."""
    rows = IndexRows()
    for param in params:
        if param.type in (ParamType.TOKEN, ParamType.URI):
            raise ValueError(f"{param.name}: a token needs extract_index (the cipher)")
        _extract_param(rows, resource, param, cast(FieldCipher, None), base_url)
    return rows


def extract_index(
    resource: dict[str, Any], definition: ResourceDef, cipher: FieldCipher, base_url: str = ""
) -> IndexRows:
    rows = IndexRows()
    for name, param in definition.params.items():
        if name in ("_id", "_lastUpdated"):
            continue  # answered from the resource table
        _extract_param(rows, resource, param, cipher, base_url)
    # Internal rows for the consent filter in SQL (consent.enforcement): origin and labels.
    origin = origin_facility(resource)
    if origin:
        rows.tokens.append((ORIGIN_PARAM, None, origin[:MAX_INDEXED_LEN]))
    rows.tokens.extend((LABEL_PARAM, None, label) for label in sorted(classify(resource).labels))
    # Deduplicate: the same value reached by two paths is indexed once.
    rows.tokens = list(dict.fromkeys(rows.tokens))
    rows.strings = list(dict.fromkeys(rows.strings))
    rows.dates = list(dict.fromkeys(rows.dates))
    rows.references = list(dict.fromkeys(rows.references))
    rows.quantities = list(dict.fromkeys(rows.quantities))
    return rows
