"""The policy's catalogue as operators and clients read it. Pure.

Operators get rows (``system,code,name,class,unit_price,price_ceiling``, class ``A``/``B``/``C``
for 甲/乙/丙, prices in yuan); clients get FHIR R4 ``ChargeItemDefinition`` resources in a
searchset Bundle (the hub's generic store does not serve that type: the catalogue is policy
data, not something facilities write).
"""

from __future__ import annotations

from typing import Any

from insurance.money import money, yuan
from insurance.policy import CatalogueItem, PolicyVersion
from insurance.resources import CATALOGUE_SYSTEM, HUB

CATALOGUE_COLUMNS = ("system", "code", "name", "class", "unit_price", "price_ceiling")
CLASS_SYSTEM = f"{HUB}/CodeSystem/insurance-item-class"
KIND_SYSTEM = f"{HUB}/CodeSystem/insurance-item-kind"
CLASS_DISPLAY = {
    "A": "甲类 fully covered",
    "B": "乙类 self-paid share first",
    "C": "丙类 not covered",
}


def catalogue_rows(version: PolicyVersion) -> list[dict[str, object]]:
    """One row per catalogue item; prices as yuan with two decimals, no ceiling empty."""
    return [
        {
            "system": CATALOGUE_SYSTEM,
            "code": item.code,
            "name": item.name,
            "class": item.item_class.value,
            "unit_price": f"{yuan(item.unit_price_fen):.2f}",
            "price_ceiling": (
                "" if item.price_ceiling_fen is None else f"{yuan(item.price_ceiling_fen):.2f}"
            ),
        }
        for item in version.catalogue
    ]


def _price_component(kind: str, fen: int) -> dict[str, Any]:
    return {"type": "base", "code": {"text": kind}, "amount": money(fen)}


def charge_item_definition(version: PolicyVersion, item: CatalogueItem) -> dict[str, Any]:
    """One catalogue item: its code, class (applicability) and reference price / ceiling."""
    prices = [_price_component("reference-price", item.unit_price_fen)]
    if item.price_ceiling_fen is not None:
        prices.append(_price_component("price-ceiling", item.price_ceiling_fen))
    return {
        "resourceType": "ChargeItemDefinition",
        "id": f"{version.version}-{item.code}",
        "url": f"{CATALOGUE_SYSTEM}/{item.code}",
        "version": version.version,
        "title": item.name,
        "status": "active",
        "code": {"coding": [{"system": CATALOGUE_SYSTEM, "code": item.code, "display": item.name}]},
        "effectivePeriod": {
            "start": version.effective_from.isoformat(),
            **({"end": version.effective_to.isoformat()} if version.effective_to else {}),
        },
        "useContext": [
            {
                "code": {
                    "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                    "code": "program",
                },
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": CLASS_SYSTEM,
                            "code": item.item_class.value,
                            "display": CLASS_DISPLAY[item.item_class.value],
                        },
                        {"system": KIND_SYSTEM, "code": item.kind.value},
                    ]
                },
            }
        ],
        "propertyGroup": [{"priceComponent": prices}],
    }


def catalogue_bundle(version: PolicyVersion, base_url: str) -> dict[str, Any]:
    """A searchset Bundle of the version's ChargeItemDefinitions."""
    entries = [charge_item_definition(version, item) for item in version.catalogue]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [
            {"fullUrl": f"{base_url}/ChargeItemDefinition/{e['id']}", "resource": e}
            for e in entries
        ],
    }
