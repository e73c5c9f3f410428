"""The session-wide test client's token (tests/live.py): minted again before it expires, and a
test's own Authorization header is left alone."""

from __future__ import annotations

import httpx

from tests.live import FreshToken


def test_the_token_is_minted_again_once_it_is_old() -> None:
    minted = iter(["first", "second"])
    auth = FreshToken(lambda: next(minted), max_age=0.0)
    sent = next(auth.auth_flow(httpx.Request("GET", "http://hub.test/fhir/Patient")))
    assert sent.headers["Authorization"] == "Bearer second"


def test_a_young_token_is_kept_and_a_tests_own_header_wins() -> None:
    auth = FreshToken(lambda: "only", max_age=3600.0)
    plain = next(auth.auth_flow(httpx.Request("GET", "http://hub.test/fhir/Patient")))
    assert plain.headers["Authorization"] == "Bearer only"
    own = httpx.Request(
        "GET", "http://hub.test/fhir/Patient", headers={"Authorization": "Bearer x"}
    )
    assert next(auth.auth_flow(own)).headers["Authorization"] == "Bearer x"
