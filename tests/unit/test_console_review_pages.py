"""The data steward's and the fund auditor's pages have words for everything they show: every
literal message key of their templates, and every comparison the patient index scores."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hub.console.pages.auditor
import hub.console.pages.steward  # registers the steward's messages
from hub.console.i18n import LANGUAGES, translator
from hub.mpi.matching.compare import SPECS

TEMPLATES = Path(hub.console.pages.auditor.__file__).parents[1] / "templates"
_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9.\-]+)["']\s*[,)]""")


def _literal_keys(area: str) -> set[str]:
    return {k for p in (TEMPLATES / area).glob("*.html") for k in _KEY.findall(p.read_text())}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("area", ["steward", "auditor"])
def test_every_key_of_the_templates_has_words(area: str, language: str) -> None:
    keys = _literal_keys(area)
    assert len(keys) > 10
    t = translator(language)
    assert [k for k in sorted(keys) if t(k) == k] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_comparison_the_index_scores_has_a_name(language: str) -> None:
    t = translator(language)
    assert [s.name for s in SPECS if t(f"steward.cmp.{s.name}") == f"steward.cmp.{s.name}"] == []
