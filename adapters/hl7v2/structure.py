"""Strict structure validation with hl7apy, for facilities configured strict.

Only for the facilities in ``HUB_HL7_STRICT_FACILITIES``; hl7apy is imported on first use, so
the lenient path never loads it. What is checked is the message *structure* of the version
the message declares (MSH-12): every segment known, in a place the abstract message syntax
allows and in its order (HL7 table 0357 code 100), required segments and groups present,
non-repeating ones not repeated (100). Z-segments are allowed anywhere.

hl7apy's own ``VALIDATION_LEVEL.STRICT`` (and ``Validator``) also checks data types, component
counts, withdrawn fields and required fields; on the team's corpus of real-world messages it
refuses nearly every one (a date with an offset in a DT, a second component in an IS, v2.8
files sending withdrawn EVN-1, a CE with seven components), so the hub parses with
``TOLERANT`` and checks the structure itself. Required *fields* the hub needs are checked by
the mappings for every facility (101).
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.errors import ErrorCode, Hl7ContentError, Hl7Error, Hl7Reject


def check_structure(text: str) -> None:
    """Raise an :class:`Hl7Error` naming the first structure error of a decoded message."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.exceptions import HL7apyException
    from hl7apy.parser import parse_message

    segments = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]
    try:
        message = parse_message(
            "\r".join(segments),
            validation_level=VALIDATION_LEVEL.TOLERANT,
            find_groups=True,
        )
        reference = message.reference
    except (HL7apyException, AttributeError, ValueError) as exc:
        raise Hl7Reject(
            f"the message structure could not be read ({type(exc).__name__})",
            code=ErrorCode.SEGMENT_SEQUENCE,
            location="MSH-9",
        ) from None
    problem = _first_problem(message, reference)
    if problem is not None:
        raise problem


def _first_problem(element: Any, reference: Any) -> Hl7Error | None:
    children = [c for c in element.children if not c.is_z_element()]
    position = {child[0]: n for n, child in enumerate(reference[1])}
    last = -1
    for child in children:
        if child.name not in position:
            return _error(f"segment {_segment_name(child)} is out of place or unknown in "
                          f"{element.name}", _segment_name(child))  # fmt: skip
        if reference[0] != "choice" and position[child.name] < last:
            return _error(f"{_kind(child.name)} {_segment_name(child)} is out of order in "
                          f"{element.name}", _segment_name(child))  # fmt: skip
        last = max(last, position[child.name])
    present_choice = False
    for name, structure, (least, most), *_ in reference[1]:
        found = [c for c in children if c.name == name]
        present_choice = present_choice or bool(found)
        if reference[0] != "choice" and len(found) < least:
            return _error(f"required {_kind(name)} {name} is missing in {element.name}", name)
        if most != -1 and len(found) > most:
            return _error(f"{_kind(name)} {name} may not repeat in {element.name}", name)
        for child in found:
            if child.classname == "Group":
                problem = _first_problem(child, structure)
                if problem is not None:
                    return problem
    if reference[0] == "choice" and not present_choice:
        return _error(f"{element.name} holds none of its alternatives", element.name)
    return None


def _kind(name: str) -> str:
    return "segment" if len(name) == 3 else "group"


def _segment_name(element: Any) -> str:
    return str(element.name)[:3] if element.classname == "Segment" else str(element.name)


def _error(text: str, location: str) -> Hl7Error:
    return Hl7ContentError(text, code=ErrorCode.SEGMENT_SEQUENCE, location=location[:40])
