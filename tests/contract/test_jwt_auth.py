"""Token validation with real RS256 tokens, real keys and a JWKS served over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.dev_issuer import DevIssuer, jwk_thumbprint
from adapters.jwt_auth import HttpJwks, StaticJwks, TokenValidator
from domain.access import AccessDenied, Action, DenialReason, Principal, Role, authorize
from services.identity import AuthenticationError, JwksUnavailable, bearer_token

ISSUER = "https://login.example.test/tenant-1/v2.0"
AUDIENCE = "api://donatello-test"
TENANT = "tenant-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_a() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def key_b() -> rsa.RSAPrivateKey:
    return new_key()


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    # Shaped like Entra's: no `alg` member, `use: sig`.
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(kid=kid, use="sig")
    return jwk


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "subject-1",
        "oid": "user-1",
        "tid": TENANT,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "roles": ["Generator.Standard", "Dept.Manager"],
        "department": "dept-7",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: rsa.RSAPrivateKey, kid: str = "kid-a", algorithm: str = "RS256", **kw: Any) -> str:
    return jwt.encode(claims(**kw), key, algorithm=algorithm, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_made(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token PyJWT would refuse to make: `none`, or HMAC keyed with a public key."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unix_claims(**overrides: Any) -> dict[str, Any]:
    return {
        name: int(value.timestamp()) if isinstance(value, datetime) else value
        for name, value in claims(**overrides).items()
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def validator_for(jwks: dict[str, Any], **options: Any) -> TokenValidator:
    options.setdefault("allowed_tenants", {TENANT})
    return TokenValidator(StaticJwks(jwks), issuer=ISSUER, audience=AUDIENCE, **options)


@pytest.fixture
def validator(key_a: rsa.RSAPrivateKey) -> TokenValidator:
    return validator_for({"keys": [public_jwk(key_a, "kid-a")]})


def rejection(validator: TokenValidator, token: str) -> str:
    with pytest.raises(AuthenticationError) as error:
        validator.validate(token)
    if token:
        assert token not in str(error.value)
        assert token not in repr(error.value)
    return error.value.reason


# --- the happy path ------------------------------------------------------------------


def test_good_token_becomes_a_principal(
    validator: TokenValidator, key_a: rsa.RSAPrivateKey
) -> None:
    assert validator.validate(sign(key_a)) == Principal(
        user_id="user-1",
        roles=frozenset({Role.GENERATOR_STANDARD, Role.DEPT_MANAGER}),
        department_id="dept-7",
        tenant_id=TENANT,
    )


def test_user_id_falls_back_to_sub(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    assert validator.validate(sign(key_a, oid=None)).user_id == "subject-1"
    assert rejection(validator, sign(key_a, oid=None, sub=None)) == "token names no user"


def test_unknown_roles_are_ignored(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    token = sign(key_a, roles=["Super.User", "Finance.Reader", 7, "platform.admin"])
    assert validator.validate(token).roles == frozenset({Role.FINANCE_READER})
    assert validator.validate(sign(key_a, roles="Platform.Admin")).roles == frozenset()


def test_missing_roles_authenticate_but_authorize_nothing(
    validator: TokenValidator, key_a: rsa.RSAPrivateKey
) -> None:
    principal = validator.validate(sign(key_a, roles=None))
    assert principal.roles == frozenset()
    with pytest.raises(AccessDenied) as denied:
        authorize(principal, Action.MODEL_LIST)
    assert denied.value.reason is DenialReason.NO_ROLE


def test_department_claim_name_is_configurable(key_a: rsa.RSAPrivateKey) -> None:
    custom = validator_for(
        {"keys": [public_jwk(key_a, "kid-a")]}, department_claim="extension_CostCentre"
    )
    token = sign(key_a, extension_CostCentre="cc-42")
    assert custom.validate(token).department_id == "cc-42"
    assert custom.validate(sign(key_a)).department_id is None


def test_several_audiences_and_issuers_may_be_accepted(key_a: rsa.RSAPrivateKey) -> None:
    lenient = TokenValidator(
        StaticJwks({"keys": [public_jwk(key_a, "kid-a")]}),
        issuer=[ISSUER, "https://sts.example.test/tenant-1/"],
        audience=[AUDIENCE, "client-id-guid"],
    )
    token = sign(key_a, aud="client-id-guid", iss="https://sts.example.test/tenant-1/")
    assert lenient.validate(token).user_id == "user-1"
    assert lenient.validate(sign(key_a, tid=None)).tenant_id is None


# --- time ------------------------------------------------------------------------------


def test_expired(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    past = datetime.now(UTC) - timedelta(minutes=10)
    token = sign(key_a, iat=past - timedelta(hours=1), nbf=None, exp=past)
    assert rejection(validator, token) == "token expired"


def test_not_yet_valid(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=10)
    assert rejection(validator, sign(key_a, nbf=soon)) == "token not yet valid"
    assert rejection(validator, sign(key_a, iat=soon)) == "token not yet valid"


def test_leeway_is_honoured(key_a: rsa.RSAPrivateKey) -> None:
    jwks = {"keys": [public_jwk(key_a, "kid-a")]}
    default, strict = validator_for(jwks), validator_for(jwks, leeway=timedelta(0))
    now = datetime.now(UTC)
    just_expired = sign(key_a, exp=now - timedelta(seconds=30), iat=now - timedelta(hours=1))
    long_expired = sign(key_a, exp=now - timedelta(seconds=90), iat=now - timedelta(hours=1))
    early = sign(key_a, nbf=now + timedelta(seconds=30), iat=now)
    too_early = sign(key_a, nbf=now + timedelta(seconds=90), iat=now)

    assert default.validate(just_expired).user_id == "user-1"
    assert default.validate(early).user_id == "user-1"
    assert rejection(default, long_expired) == "token expired"
    assert rejection(default, too_early) == "token not yet valid"
    assert rejection(strict, just_expired) == "token expired"
    assert rejection(strict, early) == "token not yet valid"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud"])
def test_required_claims(validator: TokenValidator, key_a: rsa.RSAPrivateKey, claim: str) -> None:
    dropped: dict[str, Any] = {claim: None}
    assert rejection(validator, sign(key_a, **dropped)) == f"missing claim {claim}"


# --- who issued it, for whom -----------------------------------------------------------


def test_wrong_audience(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    assert rejection(validator, sign(key_a, aud="api://someone-else")) == "wrong audience"


def test_wrong_issuer(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    evil = "https://login.example.test/other/v2.0"
    assert rejection(validator, sign(key_a, iss=evil)) == "wrong issuer"


def test_wrong_or_missing_tenant(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    assert rejection(validator, sign(key_a, tid="tenant-2")) == "tenant not allowed"
    assert rejection(validator, sign(key_a, tid=None)) == "tenant not allowed"


# --- signatures and algorithms ---------------------------------------------------------


def test_unknown_kid(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    assert rejection(validator, sign(key_a, kid="kid-z")) == "unknown signing key"


def test_signed_by_another_key_under_a_known_kid(
    validator: TokenValidator, key_b: rsa.RSAPrivateKey
) -> None:
    assert rejection(validator, sign(key_b, kid="kid-a")) == "bad signature"


def test_tampered_payload(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    header, _, signature = sign(key_a).split(".")
    promoted = b64url(json.dumps(unix_claims(roles=["Platform.Admin"])).encode())
    assert rejection(validator, f"{header}.{promoted}.{signature}") == "bad signature"


def test_alg_none(validator: TokenValidator) -> None:
    token = hand_made({"alg": "none", "typ": "JWT", "kid": "kid-a"}, unix_claims(), None)
    assert rejection(validator, token) == "unsupported signing algorithm"


def test_hs256_keyed_with_the_public_key(
    validator: TokenValidator, key_a: rsa.RSAPrivateKey
) -> None:
    pem = key_a.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, pem.strip(), json.dumps(public_jwk(key_a, "kid-a")).encode()):
        token = hand_made({"alg": "HS256", "typ": "JWT", "kid": "kid-a"}, unix_claims(), secret)
        assert rejection(validator, token) == "unsupported signing algorithm"


@pytest.mark.parametrize("algorithm", ["RS512", "PS256"])
def test_other_rsa_algorithms_with_the_right_key(
    validator: TokenValidator, key_a: rsa.RSAPrivateKey, algorithm: str
) -> None:
    assert rejection(validator, sign(key_a, algorithm=algorithm)) == "unsupported signing algorithm"


def test_rs256_header_over_a_forged_signature(validator: TokenValidator) -> None:
    token = hand_made({"alg": "RS256", "kid": "kid-a"}, unix_claims(), b"guess")
    assert rejection(validator, token) == "bad signature"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 20_000])
def test_garbage(validator: TokenValidator, token: str) -> None:
    assert rejection(validator, token) == "malformed token"


def test_token_without_kid(validator: TokenValidator, key_a: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(), key_a, algorithm="RS256")
    assert rejection(validator, token) == "token has no key id"


def test_jwks_keys_for_other_algorithms_are_not_used(key_a: rsa.RSAPrivateKey) -> None:
    wrong_use = public_jwk(key_a, "kid-a") | {"use": "enc"}
    wrong_alg = public_jwk(key_a, "kid-b") | {"alg": "RS512"}
    mangled = {"kty": "RSA", "kid": "kid-c", "n": "!!", "e": "AQAB"}
    skeptic = validator_for({"keys": [wrong_use, wrong_alg, mangled, "junk"]})
    for kid in ("kid-a", "kid-b", "kid-c"):
        assert rejection(skeptic, sign(key_a, kid=kid)) == "unknown signing key"


def test_a_jwks_without_keys_is_an_outage_not_a_bad_token(key_a: rsa.RSAPrivateKey) -> None:
    with pytest.raises(JwksUnavailable):
        validator_for({"nope": []}).validate(sign(key_a))


# --- the Authorization header ----------------------------------------------------------


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"
    for missing in (None, "", "   "):
        with pytest.raises(AuthenticationError, match="missing bearer token"):
            bearer_token(missing)
    for malformed in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "abc.def.ghi"):
        with pytest.raises(AuthenticationError, match="malformed authorization header"):
            bearer_token(malformed)


# --- a JWKS served over HTTP, with rotation ---------------------------------------------


class JwksServer:
    """A real HTTP server on loopback that serves a JWKS document and counts requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.hits = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.hits += 1
                    body, status = json.dumps(outer.document).encode(), outer.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/discovery/v2.0/keys"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def http_validator(
    url: str, clock: FakeClock, client: httpx.Client | None = None
) -> TokenValidator:
    return TokenValidator(
        HttpJwks(url, client=client),
        issuer=ISSUER,
        audience=AUDIENCE,
        min_refresh_interval=60.0,
        max_key_age=3600.0,
        clock=clock,
    )


def test_key_rotation_is_picked_up_without_hammering_the_server(
    jwks_server: JwksServer, key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock()
    validator = http_validator(jwks_server.url, clock)
    jwks_server.document = {"keys": [public_jwk(key_a, "kid-a")]}
    assert validator.validate(sign(key_a)).user_id == "user-1"
    assert validator.validate(sign(key_a)).user_id == "user-1"
    assert jwks_server.hits == 1  # keys are cached

    # Rotation: the provider publishes kid-b and starts signing with it.
    jwks_server.document = {"keys": [public_jwk(key_a, "kid-a"), public_jwk(key_b, "kid-b")]}
    clock.now += 61
    assert validator.validate(sign(key_b, kid="kid-b")).user_id == "user-1"
    assert jwks_server.hits == 2

    # A burst of forged kids inside the refresh interval causes no fetch at all.
    for attempt in range(50):
        assert rejection(validator, sign(key_b, kid=f"forged-{attempt}")) == "unknown signing key"
    assert jwks_server.hits == 2
    assert validator.validate(sign(key_b, kid="kid-b")).user_id == "user-1"

    # Once the interval has passed, one more refresh is allowed, then the kid is rejected.
    clock.now += 61
    assert rejection(validator, sign(key_b, kid="forged-again")) == "unknown signing key"
    assert jwks_server.hits == 3


def test_concurrent_unknown_kids_cause_one_fetch(
    jwks_server: JwksServer, key_a: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock()
    jwks_server.document = {"keys": [public_jwk(key_a, "kid-a")]}
    with httpx.Client() as client:
        validator = http_validator(jwks_server.url, clock, client)
        validator.validate(sign(key_a))
        clock.now += 61
        forged = [sign(key_a, kid=f"forged-{n}") for n in range(32)]

        def attempt(token: str) -> str:
            try:
                validator.validate(token)
            except AuthenticationError as error:
                return error.reason
            return "accepted"

        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(attempt, forged))
    assert set(outcomes) == {"unknown signing key"}
    assert jwks_server.hits == 2


def test_retired_keys_expire_and_an_outage_keeps_the_last_good_keys(
    jwks_server: JwksServer, key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock()
    validator = http_validator(jwks_server.url, clock)
    jwks_server.document = {"keys": [public_jwk(key_a, "kid-a")]}
    validator.validate(sign(key_a))

    jwks_server.status = 503
    clock.now += 3601
    assert validator.validate(sign(key_a)).user_id == "user-1"  # served from the old set
    assert validator.validate(sign(key_a)).user_id == "user-1"
    assert jwks_server.hits == 2  # the failed refresh is rate-limited too
    clock.now += 61
    assert validator.validate(sign(key_a)).user_id == "user-1"
    assert jwks_server.hits == 3

    jwks_server.status = 200
    jwks_server.document = {"keys": [public_jwk(key_b, "kid-b")]}
    clock.now += 3601
    assert rejection(validator, sign(key_a)) == "unknown signing key"  # kid-a was retired
    assert validator.validate(sign(key_b, kid="kid-b")).user_id == "user-1"


def test_unreachable_jwks_is_an_outage(jwks_server: JwksServer, key_a: rsa.RSAPrivateKey) -> None:
    clock = FakeClock()
    validator = http_validator(jwks_server.url, clock)
    jwks_server.status = 500
    with pytest.raises(JwksUnavailable):
        validator.validate(sign(key_a))
    # Still down and inside the interval: fail fast without another request.
    with pytest.raises(JwksUnavailable):
        validator.validate(sign(key_a))
    assert jwks_server.hits == 1

    jwks_server.status = 200
    jwks_server.document = {"keys": [public_jwk(key_a, "kid-a")]}
    clock.now += 61
    assert validator.validate(sign(key_a)).user_id == "user-1"


def test_connection_refused_is_an_outage(key_a: rsa.RSAPrivateKey) -> None:
    server = JwksServer()
    url = server.url
    server.close()
    with pytest.raises(JwksUnavailable):
        http_validator(url, FakeClock()).validate(sign(key_a))


# --- the dev issuer --------------------------------------------------------------------


def test_dev_tokens_validate_through_the_same_validator(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path / "keys" / "dev-signing.pem")
    token = issuer.mint("alice", [Role.GENERATOR_POWER, "Finance.Reader"], "dept-1")
    assert issuer.validator().validate(token) == Principal(
        user_id="alice",
        roles=frozenset({Role.GENERATOR_POWER, Role.FINANCE_READER}),
        department_id="dept-1",
        tenant_id="dev",
    )
    # Built by hand, exactly as the local shape wires it.
    by_hand = TokenValidator(
        StaticJwks(issuer.jwks()),
        issuer="https://donatello.local/dev",
        audience="api://donatello",
        allowed_tenants={"dev"},
    )
    assert by_hand.validate(token).user_id == "alice"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == issuer.jwks()["keys"][0]["kid"]


def test_dev_token_claims_and_expiry(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path / "dev.pem")
    token = issuer.mint("bob", [], None, ttl=timedelta(minutes=5), extra_claims={"name": "Bob"})
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["sub"] == payload["oid"] == "bob"
    assert payload["tid"] == "dev"
    assert payload["exp"] - payload["iat"] == 300
    assert payload["nbf"] == payload["iat"]
    assert payload["name"] == "Bob"
    assert "department" not in payload
    expired = issuer.mint("bob", [], None, ttl=timedelta(minutes=-5))
    assert rejection(issuer.validator(), expired) == "token expired"


def test_dev_key_is_private_persisted_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dev-signing.pem"
    first = DevIssuer(path)
    token = first.mint("carol", [Role.ORG_ADMIN], "dept-2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    before = path.read_bytes()

    second = DevIssuer(path)
    assert second.jwks() == first.jwks()
    assert second.validator().validate(token).user_id == "carol"
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staging leftovers

    other = DevIssuer(tmp_path / "elsewhere.pem")
    assert rejection(other.validator(), token) == "unknown signing key"


def test_dev_issuer_rejects_a_file_that_is_not_an_rsa_key(tmp_path: Path) -> None:
    path = tmp_path / "dev.pem"
    path.write_text("not a key")
    with pytest.raises(ValueError):
        DevIssuer(path).jwks()


RACERS = 6


def _race_for_the_key(path: str, start: Any, kids: Any) -> None:
    start.wait()
    kids.put(DevIssuer(Path(path)).jwks()["keys"][0]["kid"])


def test_racing_processes_end_up_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race" / "dev-signing.pem"
    context = multiprocessing.get_context("fork")
    start, kids = context.Barrier(RACERS), context.Queue()
    racers = [
        context.Process(target=_race_for_the_key, args=(str(path), start, kids))
        for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    seen = {kids.get(timeout=30) for _ in racers}
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    assert seen == {DevIssuer(path).jwks()["keys"][0]["kid"]}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_kid_is_the_rfc_7638_thumbprint() -> None:
    # The example of RFC 7638 section 3.1.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-"
            "5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
            "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD0"
            "8qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
            "kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
