"""Bearer tokens: what `issue_token` makes, `user_id_from_token` accepts, and what it refuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from collabcache_api.errors import DomainError, Unauthorized
from collabcache_api.security import ALGORITHM, issue_token, user_id_from_token
from collabcache_shared.settings import AuthSettings

SECRET = "unit-test-secret-with-enough-length-0123456789"


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Neither the environment nor a `.env` file of the working directory may leak in."""
    for name in ("ENVIRONMENT", "JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(jwt_secret=SecretStr(SECRET))


def _claims(settings: AuthSettings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], secret: str = SECRET, algorithm: str = ALGORITHM) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_round_trip(settings: AuthSettings) -> None:
    user_id = uuid.uuid4()
    assert user_id_from_token(issue_token(user_id, settings), settings) == user_id


def test_the_token_carries_the_configured_claims(settings: AuthSettings) -> None:
    user_id = uuid.uuid4()
    before = datetime.now(UTC).replace(microsecond=0)
    token = issue_token(user_id, settings, ttl=timedelta(minutes=10))
    claims = jwt.decode(token, SECRET, algorithms=[ALGORITHM], audience=settings.jwt_audience)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["sub"] == str(user_id)
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    assert before + timedelta(minutes=10) <= expires <= before + timedelta(minutes=10, seconds=2)


def test_the_default_lifetime_is_the_configured_one() -> None:
    settings = AuthSettings(jwt_secret=SecretStr(SECRET), jwt_ttl_seconds=120)
    claims = jwt.decode(
        issue_token(uuid.uuid4(), settings),
        SECRET,
        algorithms=[ALGORITHM],
        audience=settings.jwt_audience,
    )
    assert claims["exp"] - claims["iat"] == 120


def test_an_expired_token_is_refused(settings: AuthSettings) -> None:
    token = issue_token(uuid.uuid4(), settings, ttl=timedelta(seconds=-1))
    with pytest.raises(Unauthorized, match="expired"):
        user_id_from_token(token, settings)


def test_a_token_signed_with_another_secret_is_refused(settings: AuthSettings) -> None:
    other = AuthSettings(jwt_secret=SecretStr("another-secret-of-sufficient-length-xyz"))
    with pytest.raises(Unauthorized, match="Invalid token"):
        user_id_from_token(issue_token(uuid.uuid4(), other), settings)


@pytest.mark.parametrize(
    ("label", "changes"),
    [
        ("another audience", {"aud": "somebody-else"}),
        ("another issuer", {"iss": "somebody-else"}),
        ("no audience", {"aud": None}),
        ("no issuer", {"iss": None}),
        ("no expiry", {"exp": None}),
        ("no subject", {"sub": None}),
        ("a numeric subject", {"sub": 42}),
    ],
)
def test_wrong_or_missing_claims_are_refused(
    settings: AuthSettings, label: str, changes: dict[str, Any]
) -> None:
    with pytest.raises(Unauthorized, match="Invalid token"):
        user_id_from_token(_sign(_claims(settings, **changes)), settings)


def test_a_subject_that_is_no_uuid_is_refused(settings: AuthSettings) -> None:
    with pytest.raises(Unauthorized, match="subject"):
        user_id_from_token(_sign(_claims(settings, sub="alice")), settings)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b.c",
        jwt.encode({"sub": str(uuid.uuid4())}, key=None, algorithm="none"),  # type: ignore[arg-type]
    ],
    ids=["empty", "not a jwt", "three parts", "unsigned"],  # stable across xdist workers
)
def test_garbage_and_unsigned_tokens_are_refused(settings: AuthSettings, token: str) -> None:
    with pytest.raises(Unauthorized):
        user_id_from_token(token, settings)


# HS512 signed with the (HS256-sized) secret: PyJWT warns, the test means it.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_only_hs256_is_accepted(settings: AuthSettings) -> None:
    with pytest.raises(Unauthorized):
        user_id_from_token(_sign(_claims(settings), algorithm="HS512"), settings)


def test_a_tampered_payload_is_refused(settings: AuthSettings) -> None:
    header, _, signature = issue_token(uuid.uuid4(), settings).split(".")
    forged = _sign(_claims(settings)).split(".")[1]
    with pytest.raises(Unauthorized, match="Invalid token"):
        user_id_from_token(f"{header}.{forged}.{signature}", settings)


def test_unauthorized_answers_401() -> None:
    assert issubclass(Unauthorized, DomainError)
    assert Unauthorized("x").status_code == 401
