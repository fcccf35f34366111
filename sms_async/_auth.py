"""Credentials: the v1 Basic header and the smsapi signature (pure functions).

The smsapi signature follows SendCloud's documented rule:

1. take every parameter except ``signature`` and ``smsKey``, sorted by name;
2. join them as ``name=value`` with ``&``, values *not* URL-encoded;
3. wrap the result in the key: ``KEY&params&KEY``;
4. hex digest of that string in UTF-8 (MD5, or SHA-256).

Values are URL-encoded only on the wire, by httpx.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

__all__ = ["basic_auth_header", "sign_params", "signature_string"]

_EXCLUDED = frozenset({"signature", "smsKey"})


def basic_auth_header(sms_user: str, sms_key: str) -> str:
    """Return the value of the v1 ``Authorization`` header for these credentials."""
    token = base64.b64encode(f"{sms_user}:{sms_key}".encode()).decode("ascii")
    return f"Basic {token}"


def signature_string(params: Mapping[str, str], sms_key: str) -> str:
    """Return the string that is hashed to sign *params* (step 1 to 3 of the rule)."""
    param_str = "&".join(
        f"{name}={params[name]}" for name in sorted(params) if name not in _EXCLUDED
    )
    return f"{sms_key}&{param_str}&{sms_key}"


def sign_params(params: Mapping[str, str], sms_key: str, method: str = "md5") -> str:
    """Return the hex ``signature`` of *params* under *sms_key*.

    Args:
        params: The request's parameters, values as they will be sent (unencoded).
            ``signature`` and ``smsKey`` are ignored if present.
        sms_key: The account's key.
        method: ``"md5"`` (the documented digest) or ``"sha256"``.
    """
    data = signature_string(params, sms_key).encode("utf-8")
    if method == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if method == "sha256":
        return hashlib.sha256(data).hexdigest()
    raise ValueError(f"unknown signature method {method!r}; use 'md5' or 'sha256'")
