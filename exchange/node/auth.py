"""Bearer tokens: signed, expiring JWTs (HS256) issued by ``POST /api/sessions``.

Exports: ``TokenIssuer``, ``AuthError``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

__all__ = ["AuthError", "TokenIssuer"]

_ALGORITHM = "HS256"
_AUDIENCE = "tickwire"


class AuthError(Exception):
    """The token is missing, malformed, forged or expired (always answered with 401)."""


@dataclass(frozen=True)
class TokenIssuer:
    """Issues and checks tokens with a secret that lives in the data directory."""

    secret: bytes
    ttl_s: int

    def issue(self, account: str, now: float | None = None) -> tuple[str, int]:
        """A token for ``account`` and its expiry (seconds since the epoch)."""
        issued = int(time.time() if now is None else now)
        expires = issued + self.ttl_s
        claims = {"sub": account, "iat": issued, "exp": expires, "aud": _AUDIENCE}
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM), expires

    def verify(self, token: str | None) -> str:
        """The account named by a valid token; raises :class:`AuthError` otherwise."""
        if not token:
            raise AuthError("missing token")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        account = claims.get("sub")
        if not isinstance(account, str) or not account:
            raise AuthError("invalid token")
        return account


def bearer_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is what it is."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
