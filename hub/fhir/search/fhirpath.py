"""Translate the FHIRPath expressions of R4 search parameters into the hub's search paths.

The hub's extractor (hub.fhir.search.extract) walks a small path language, described in
hub.fhir.registry: dotted element names, one path per concrete type of a choice element, and
``elem[key=value]`` filters. These are the R4 expression forms that map onto it; anything else
(``exists()``, ``extension(...)``, a choice element named without its type) is refused, and the
parameter must be hand-written in hub.fhir.search.hub_params or left unsupported.

  ``Patient.address.city``                       -> ``address.city``
  ``(Observation.value as Quantity)``            -> ``valueQuantity``
  ``Condition.onset.as(dateTime)``               -> ``onsetDateTime``
  ``(Observation.value as CodeableConcept).text`` -> ``valueCodeableConcept.text``
  ``Encounter.subject.where(resolve() is Patient)`` -> ``subject`` (the target list filters)
  ``Patient.telecom.where(system='phone')``      -> ``telecom[system=phone]``
  ``A.x | A.y``                                  -> both paths
  ``Condition.onset.as(Range)``                  -> left out (UNINDEXED_CHOICE_TYPES)
"""

from __future__ import annotations

import re

_STEPS = r"[a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*"
_ROOTED = rf"(?P<root>[A-Z][A-Za-z]*)\.(?P<path>{_STEPS})"
_FORMS = (
    re.compile(rf"\({_ROOTED} as (?P<type>[A-Za-z]+)\)(?:\.(?P<tail>{_STEPS}))?"),
    re.compile(rf"{_ROOTED}\.as\((?P<type>[A-Za-z]+)\)"),
    re.compile(rf"{_ROOTED}\.where\(resolve\(\) is (?P<resolved>[A-Z][A-Za-z]*)\)"),
    re.compile(rf"{_ROOTED}\.where\((?P<key>[a-z][A-Za-z]*)='(?P<value>[^'\]]+)'\)"),
    re.compile(_ROOTED),
)

# Choice types the extractor finds no value in (a quantity is read from ``value``): R4 lists
# them beside Quantity/Age (``Condition.onset.as(Range)``); their paths are left out.
UNINDEXED_CHOICE_TYPES = frozenset({"Range", "SampledData"})


class UntranslatableExpression(ValueError):
    """The expression uses FHIRPath the hub's extractor cannot evaluate."""


def split_union(expression: str) -> list[str]:
    """Split an expression at the ``|`` operators outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, current = 0, False, ""
    for char in expression:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "|" and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def _translate_part(part: str, resource_type: str) -> str | None:
    for form in _FORMS:
        match = form.fullmatch(part)
        if match is None:
            continue
        if match["root"] != resource_type:
            raise UntranslatableExpression(f"{part!r} is not rooted at {resource_type}")
        groups = match.groupdict()
        path = match["path"]
        if groups.get("type") in UNINDEXED_CHOICE_TYPES:
            return None
        if groups.get("type"):
            # A choice element of a given type is stored as name + Type: valueQuantity.
            path += groups["type"][0].upper() + groups["type"][1:]
        if groups.get("tail"):
            path += "." + groups["tail"]
        if groups.get("key"):
            path += f"[{groups['key']}={groups['value']}]"
        return path
    raise UntranslatableExpression(f"cannot translate {part!r}")


def translate(expression: str, resource_type: str) -> tuple[str, ...]:
    """The hub paths of ``expression`` for ``resource_type``; raises UntranslatableExpression."""
    parts = split_union(expression)
    if not parts:
        raise UntranslatableExpression("empty expression")
    paths = [_translate_part(part, resource_type) for part in parts]
    kept = tuple(dict.fromkeys(path for path in paths if path is not None))
    if not kept:
        raise UntranslatableExpression(f"no indexable path in {expression!r}")
    return kept
