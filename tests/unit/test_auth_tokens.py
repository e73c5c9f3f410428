from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwk, jwt

from hub.auth.access_tokens import AccessClaims, InvalidTokenError, TokenIssuer
from hub.auth.client_assertions import (
    AssertionInfo,
    InvalidClientError,
    InvalidJwksError,
    load_jwks,
    make_client_assertion,
    verify_client_assertion,
)
from hub.auth.jwt_claims import CLOCK_SKEW_SECONDS
from hub.auth.roles import Role
from hub.auth.signing_keys import generate_signing_key, public_jwks

T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
ISSUER = "https://hub.example.org"
AUDIENCE = "https://hub.example.org/fhir"
TOKEN_URL = "https://hub.example.org/auth/token"
CLIENT = "lis-yichang-central"


@pytest.fixture(scope="module")
def es_key() -> dict[str, Any]:
    return generate_signing_key("ES256")


@pytest.fixture(scope="module")
def rs_key() -> dict[str, Any]:
    return generate_signing_key("RS256")


@pytest.fixture(scope="module")
def other_key() -> dict[str, Any]:
    return generate_signing_key("ES256")


@pytest.fixture
def issuer(es_key: dict[str, Any]) -> TokenIssuer:
    return TokenIssuer(es_key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=300)


def issue(issuer: TokenIssuer, **overrides: Any) -> tuple[str, AccessClaims]:
    values: dict[str, Any] = {
        "client_id": CLIENT,
        "facility": "F001",
        "role": Role.facility_system,
        "scope": "system/*.cruds",
        "now": T0,
    }
    return issuer.issue(**(values | overrides))


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


# --- keys ---


@pytest.mark.parametrize(("alg", "kty"), [("ES256", "EC"), ("RS256", "RSA")])
def test_generate_signing_key(alg: str, kty: str, es_key: dict[str, Any], rs_key: Any) -> None:
    key = es_key if alg == "ES256" else rs_key
    assert key["alg"] == alg
    assert key["kty"] == kty
    assert key["use"] == "sig"
    assert "d" in key
    assert key["kid"] == jwk.import_key(key).thumbprint()


def test_generate_signing_key_rejects_other_algorithms() -> None:
    with pytest.raises(ValueError):
        generate_signing_key("HS256")


def test_public_jwks_has_no_private_members(rs_key: dict[str, Any]) -> None:
    document = public_jwks(rs_key)
    (public,) = document["keys"]
    assert public["kid"] == rs_key["kid"]
    assert public["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & public.keys()
    assert load_jwks(json.dumps(document)) == document


# --- access tokens ---


def test_roundtrip(issuer: TokenIssuer) -> None:
    token, claims = issue(issuer, role=Role.patient, patient="pat-1", purpose_of_use="TREAT")
    assert issuer.verify(token, now=T0 + timedelta(seconds=10)) == claims
    assert claims.client_id == CLIENT
    assert claims.role is Role.patient
    assert claims.patient == "pat-1"
    assert claims.purpose_of_use == "TREAT"
    assert claims.issued_at == T0
    assert claims.expires_at == T0 + timedelta(seconds=300)
    header, payload = segment(token, 0), segment(token, 1)
    assert header == {"typ": "at+jwt", "alg": "ES256", "kid": issuer._kid}
    assert payload["sub"] == CLIENT
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert payload["role"] == "patient"
    assert {"iat", "nbf", "exp", "jti", "scope", "facility"} <= payload.keys()


def test_roundtrip_rs256_without_patient(rs_key: dict[str, Any]) -> None:
    rs_issuer = TokenIssuer(rs_key, issuer=ISSUER, audience=AUDIENCE)
    token, claims = issue(rs_issuer)
    assert "patient" not in segment(token, 1)
    assert "purpose_of_use" not in segment(token, 1)
    assert rs_issuer.verify(token, now=T0) == claims
    assert claims.patient is None


def test_each_token_has_its_own_jti(issuer: TokenIssuer) -> None:
    assert issue(issuer)[1].jti != issue(issuer)[1].jti


def test_expired(issuer: TokenIssuer) -> None:
    token, _ = issue(issuer)
    with pytest.raises(InvalidTokenError, match="expired"):
        issuer.verify(token, now=T0 + timedelta(seconds=300))


def test_not_yet_valid(issuer: TokenIssuer) -> None:
    token, _ = issue(issuer)
    issuer.verify(token, now=T0 - timedelta(seconds=CLOCK_SKEW_SECONDS))
    with pytest.raises(InvalidTokenError, match="not yet valid"):
        issuer.verify(token, now=T0 - timedelta(seconds=CLOCK_SKEW_SECONDS + 1))


def test_tampered_payload(issuer: TokenIssuer) -> None:
    token, _ = issue(issuer)
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    flipped = "A" if payload[middle] != "A" else "B"
    tampered = f"{header}.{payload[:middle]}{flipped}{payload[middle + 1 :]}.{signature}"
    with pytest.raises(InvalidTokenError):
        issuer.verify(tampered, now=T0)


def test_signed_by_another_key(issuer: TokenIssuer, other_key: dict[str, Any]) -> None:
    forger = TokenIssuer(other_key, issuer=ISSUER, audience=AUDIENCE)
    token, _ = issue(forger)
    with pytest.raises(InvalidTokenError, match="signature"):
        issuer.verify(token, now=T0)


def test_signed_with_another_algorithm(issuer: TokenIssuer, rs_key: dict[str, Any]) -> None:
    token, _ = issue(TokenIssuer(rs_key, issuer=ISSUER, audience=AUDIENCE))
    with pytest.raises(InvalidTokenError, match="algorithm not allowed"):
        issuer.verify(token, now=T0)


@pytest.mark.parametrize(
    ("issuer_url", "audience", "claim"),
    [(ISSUER, "https://other.example.org/fhir", "aud"), ("https://evil.example", AUDIENCE, "iss")],
)
def test_wrong_issuer_or_audience(
    es_key: dict[str, Any], issuer: TokenIssuer, issuer_url: str, audience: str, claim: str
) -> None:
    token, _ = issue(TokenIssuer(es_key, issuer=issuer_url, audience=audience))
    with pytest.raises(InvalidTokenError, match=f"'{claim}'"):
        issuer.verify(token, now=T0)


def test_alg_none_rejected(issuer: TokenIssuer) -> None:
    token, _ = issue(issuer)
    header = b64({"alg": "none", "typ": "at+jwt"})
    unsigned = f"{header}.{token.split('.')[1]}."
    with pytest.raises(InvalidTokenError, match="algorithm not allowed"):
        issuer.verify(unsigned, now=T0)


def _signed(key: dict[str, Any], claims: dict[str, Any], typ: str = "at+jwt") -> str:
    header = {"alg": key["alg"], "kid": key["kid"], "typ": typ}
    return jwt.encode(header, claims, jwk.import_key(key), algorithms=[key["alg"]])


def test_missing_claims(issuer: TokenIssuer, es_key: dict[str, Any]) -> None:
    claims = segment(issue(issuer)[0], 1)
    del claims["facility"]
    with pytest.raises(InvalidTokenError, match="lacks required claims"):
        issuer.verify(_signed(es_key, claims), now=T0)


def test_unknown_role(issuer: TokenIssuer, es_key: dict[str, Any]) -> None:
    claims = segment(issue(issuer)[0], 1) | {"role": "superuser"}
    with pytest.raises(InvalidTokenError, match="invalid token claims"):
        issuer.verify(_signed(es_key, claims), now=T0)


def test_only_access_tokens_accepted(issuer: TokenIssuer, es_key: dict[str, Any]) -> None:
    claims = segment(issue(issuer)[0], 1)
    with pytest.raises(InvalidTokenError, match="not an access token"):
        issuer.verify(_signed(es_key, claims, typ="JWT"), now=T0)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "....."])
def test_malformed_token(issuer: TokenIssuer, garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        issuer.verify(garbage, now=T0)


def test_cache_skips_signature_check_but_not_expiry(
    issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, claims = issue(issuer)
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        calls.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    assert issuer.verify(token, now=T0) == claims
    assert issuer.verify(token, now=T0 + timedelta(seconds=299)) == claims
    assert calls == ["decode"]
    with pytest.raises(InvalidTokenError, match="expired"):
        issuer.verify(token, now=T0 + timedelta(seconds=300))
    # The stale entry is gone; going back in time means verifying again.
    assert issuer.verify(token, now=T0 + timedelta(seconds=1)) == claims
    assert calls == ["decode"] * 3


def test_cache_is_bounded(es_key: dict[str, Any]) -> None:
    small = TokenIssuer(es_key, issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    for _ in range(5):
        small.verify(issue(small)[0], now=T0)
    assert len(small._cache) == 2


def test_naive_now_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(ValueError):
        issue(issuer, now=datetime(2030, 1, 1))


def test_issuer_needs_a_private_key(es_key: dict[str, Any]) -> None:
    (public,) = public_jwks(es_key)["keys"]
    with pytest.raises(ValueError):
        TokenIssuer(public, issuer=ISSUER, audience=AUDIENCE)


# --- client assertions ---


def verify(assertion: str, key: dict[str, Any], **overrides: Any) -> AssertionInfo:
    values: dict[str, Any] = {
        "client_jwks": public_jwks(key),
        "client_id": CLIENT,
        "token_url": TOKEN_URL,
        "now": T0,
    }
    return verify_client_assertion(assertion, **(values | overrides))


def assertion_claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": TOKEN_URL,
        "exp": int(T0.timestamp()) + 240,
        "jti": "jti-1",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_valid_assertion(alg: str, es_key: dict[str, Any], rs_key: dict[str, Any]) -> None:
    key = es_key if alg == "ES256" else rs_key
    assertion = make_client_assertion(key, client_id=CLIENT, token_url=TOKEN_URL, now=T0, jti="j1")
    info = verify(assertion, key)
    assert info.jti == "j1"
    assert info.expires_at == T0 + timedelta(seconds=240)


def test_valid_assertion_es384_and_audience_list(es_key: dict[str, Any]) -> None:
    key = dict(jwk.generate_key("EC", "P-384", auto_kid=True).as_dict(private=True))
    claims = assertion_claims(aud=["https://elsewhere.example", TOKEN_URL])
    header = {"alg": "ES384", "kid": key["kid"]}
    assertion = jwt.encode(header, claims, jwk.import_key(key), algorithms=["ES384"])
    jwks = {"keys": [*public_jwks(es_key)["keys"], *public_jwks(key)["keys"]]}
    assert verify(assertion, key, client_jwks=jwks).jti == "jti-1"


def test_assertion_without_kid_tries_every_key(es_key: dict[str, Any], rs_key: Any) -> None:
    assertion = jwt.encode({"alg": "RS256"}, assertion_claims(), jwk.import_key(rs_key))
    jwks = {"keys": [*public_jwks(es_key)["keys"], *public_jwks(rs_key)["keys"]]}
    assert verify(assertion, rs_key, client_jwks=jwks).jti == "jti-1"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (assertion_claims(aud="https://hub.example.org/other"), "'aud'"),
        (assertion_claims(aud=["https://hub.example.org/other"]), "'aud'"),
        (assertion_claims(sub="someone-else"), "'sub'"),
        (assertion_claims(iss="someone-else"), "'iss'"),
        (assertion_claims(jti=None), "lacks required claims"),
        (assertion_claims(jti=""), "'jti'"),
        (assertion_claims(exp=None), "lacks required claims"),
        (assertion_claims(exp=int(T0.timestamp())), "expired"),
        (assertion_claims(exp=int(T0.timestamp()) + 600), "lifetime too long"),
        (assertion_claims(nbf=int(T0.timestamp()) + 120), "not yet valid"),
    ],
)
def test_invalid_assertion_claims(
    es_key: dict[str, Any], claims: dict[str, Any], message: str
) -> None:
    assertion = _signed(es_key, claims, typ="JWT")
    with pytest.raises(InvalidClientError, match=message):
        verify(assertion, es_key)


def test_assertion_for_another_client_id(es_key: dict[str, Any]) -> None:
    assertion = make_client_assertion(es_key, client_id=CLIENT, token_url=TOKEN_URL, now=T0)
    with pytest.raises(InvalidClientError):
        verify(assertion, es_key, client_id="another-client")


def test_assertion_too_long_lifetime(es_key: dict[str, Any]) -> None:
    assertion = make_client_assertion(
        es_key, client_id=CLIENT, token_url=TOKEN_URL, now=T0, lifetime_seconds=3600
    )
    with pytest.raises(InvalidClientError, match="lifetime too long"):
        verify(assertion, es_key)


def test_assertion_expired(es_key: dict[str, Any]) -> None:
    assertion = make_client_assertion(es_key, client_id=CLIENT, token_url=TOKEN_URL, now=T0)
    with pytest.raises(InvalidClientError, match="expired"):
        verify(assertion, es_key, now=T0 + timedelta(seconds=240))


def test_assertion_key_not_in_jwks(es_key: dict[str, Any], other_key: dict[str, Any]) -> None:
    assertion = make_client_assertion(other_key, client_id=CLIENT, token_url=TOKEN_URL, now=T0)
    with pytest.raises(InvalidClientError, match="no registered key"):
        verify(assertion, es_key)


def test_assertion_forged_with_registered_kid(
    es_key: dict[str, Any], other_key: dict[str, Any]
) -> None:
    header = {"alg": "ES256", "kid": es_key["kid"]}
    assertion = jwt.encode(header, assertion_claims(), jwk.import_key(other_key))
    with pytest.raises(InvalidClientError, match="signature not verified"):
        verify(assertion, es_key)


@pytest.mark.parametrize("alg", ["none", "HS256", "ES512", "PS256"])
def test_assertion_algorithm_not_allowed(es_key: dict[str, Any], alg: str) -> None:
    unsigned = f"{b64({'alg': alg, 'kid': es_key['kid']})}.{b64(assertion_claims())}."
    with pytest.raises(InvalidClientError, match="algorithm not allowed"):
        verify(unsigned, es_key)


def test_assertion_with_private_jwks_refused(es_key: dict[str, Any]) -> None:
    assertion = make_client_assertion(es_key, client_id=CLIENT, token_url=TOKEN_URL, now=T0)
    with pytest.raises(InvalidClientError, match="JWKS"):
        verify(assertion, es_key, client_jwks={"keys": [es_key]})


# --- JWKS documents ---


def test_load_jwks_rejects_a_private_key(es_key: dict[str, Any]) -> None:
    with pytest.raises(InvalidJwksError, match=r"private key members \(d\)"):
        load_jwks(json.dumps({"keys": [es_key]}))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "'keys' array"),
        ('{"keys": []}', "no keys"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "private key members"),
        ('{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]}', "unsupported kty"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}', "not a valid EC key"),
    ],
)
def test_load_jwks_rejects_bad_documents(document: str, message: str) -> None:
    with pytest.raises(InvalidJwksError, match=message):
        load_jwks(document)


def test_load_jwks_rejects_duplicate_kids_and_wrong_use(es_key: dict[str, Any]) -> None:
    (public,) = public_jwks(es_key)["keys"]
    with pytest.raises(InvalidJwksError, match="duplicate kid"):
        load_jwks(json.dumps({"keys": [public, public]}))
    with pytest.raises(InvalidJwksError, match="'use'"):
        load_jwks(json.dumps({"keys": [public | {"use": "enc"}]}))
