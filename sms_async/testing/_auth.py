"""The fake's checks of credentials: Basic auth for v1, the signed parameters of the smsapi."""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from collections.abc import Mapping
from datetime import datetime

from .._auth import sign_params
from ._rules import (
    CODE_UNAUTHORIZED,
    INTEGER,
    SC_SIGNATURE_MISSING,
    SC_SIGNATURE_WRONG,
    SC_TIMESTAMP,
    SC_USER_EMPTY,
    SC_USER_UNKNOWN,
    TIMESTAMP_WINDOW_MS,
)
from ._wire import fail, smsapi_fail

__all__ = ["check_basic_auth", "check_signature"]


@functools.lru_cache(maxsize=64)
def _basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def check_basic_auth(headers: Mapping[str, str], user: str, key: str) -> None:
    """Fail with 401 (code 30000) unless the ``Authorization`` header holds *user*:*key*.

    The scheme is matched without regard to case, as HTTP wants.
    """
    value = headers.get("authorization", "")
    if value == _basic(user, key):
        return
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        given_user, sep, given_key = decoded.partition(":")
        if (
            sep
            and hmac.compare_digest(given_user.encode(), user.encode())
            and hmac.compare_digest(given_key.encode(), key.encode())
        ):
            return
    fail(401, CODE_UNAUTHORIZED, "Unauthorized.")


def check_signature(params: Mapping[str, str], user: str, key: str, now: datetime) -> None:
    """Fail as the smsapi does unless *params* are signed by *user* with *key*.

    The signature may be MD5 or SHA-256, hex in either case; an optional
    ``timestamp`` (milliseconds) must be within a minute of *now*.
    """
    given_user = params.get("smsUser", "")
    if not given_user:
        smsapi_fail(SC_USER_EMPTY, "smsUser is empty")
    if given_user != user:
        smsapi_fail(SC_USER_UNKNOWN, "smsUser does not exist")
    signature = params.get("signature", "")
    if not signature:
        smsapi_fail(SC_SIGNATURE_MISSING, "signature parameter is missing")
    given = signature.strip().lower().encode()
    if not any(
        hmac.compare_digest(given, sign_params(params, key, method).encode())
        for method in ("md5", "sha256")
    ):
        smsapi_fail(SC_SIGNATURE_WRONG, "signature is wrong")
    timestamp = params.get("timestamp")
    if timestamp is not None:
        now_ms = int(now.timestamp() * 1000)
        if not INTEGER.fullmatch(timestamp) or abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
            smsapi_fail(SC_TIMESTAMP, "timestamp is invalid or too far from server time")
