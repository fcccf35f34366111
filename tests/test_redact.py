from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async._redact import Redactor, spellings

KEY = "s3cr3t-KEY/do+not=leak"
TOKEN = base64.b64encode(f"user:{KEY}".encode()).decode()  # the v1 Basic token
SIGNATURE = hashlib.md5(b"KEY&a=1&KEY", usedforsecurity=False).hexdigest()
NON_ASCII = "pässwörd/秘密+ключ"  # exercises the \u escapes json.dumps writes


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _upper_escapes(text: str) -> str:
    return re.sub(r"\\u[0-9a-f]{4}", lambda m: "\\u" + m.group()[2:].upper(), text)


def named_spellings(secret: str) -> dict[str, str]:
    """The spellings the issue lists, built here independently of the module."""
    raw = secret.encode()
    json_ascii = json.dumps(secret)[1:-1]
    json_raw = json.dumps(secret, ensure_ascii=False)[1:-1]
    forms = {
        "plain": secret,
        "json": json_ascii,
        "json-upper-u": _upper_escapes(json_ascii),
        "json-unicode": json_raw,
        "json-slash": json_ascii.replace("/", "\\/"),
        "json-unicode-slash": json_raw.replace("/", "\\/"),
        "url": quote(secret, safe=""),
        "url-lower": _lower_escapes(quote(secret, safe="")),
        "url-plus": quote_plus(secret),
        "url-plus-lower": _lower_escapes(quote_plus(secret)),
        "u-lower": "".join(f"\\u{ord(c):04x}" for c in secret),
        "u-upper": "".join(f"\\u{ord(c):04X}" for c in secret),
        "hex": raw.hex(),
        "hex-upper": raw.hex().upper(),
        "base64": base64.b64encode(raw).decode(),
        "base64-nopad": base64.b64encode(raw).decode().rstrip("="),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        "base64-url-nopad": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    if re.fullmatch(r"[0-9a-fA-F]+", secret):
        forms |= {"upper": secret.upper(), "lower": secret.lower()}
    return forms


SECRETS = {"key": KEY, "token": TOKEN, "signature": SIGNATURE, "non-ascii": NON_ASCII}
TABLE = [
    pytest.param(secret, spelling, id=f"{name}-{form}")
    for name, secret in SECRETS.items()
    for form, spelling in named_spellings(secret).items()
]


def test_the_table_covers_the_interesting_cases() -> None:
    forms = named_spellings(KEY)
    assert forms["url"] != forms["url-lower"]
    assert forms["json-slash"] != forms["plain"]
    assert forms["base64"] != forms["base64-url"] or "+" not in forms["base64"]
    assert named_spellings(NON_ASCII)["json"] != named_spellings(NON_ASCII)["u-lower"]
    assert named_spellings(SIGNATURE)["upper"] != SIGNATURE


@pytest.mark.parametrize(("secret", "spelling"), TABLE)
def test_every_spelling_is_masked_inside_a_message(secret: str, spelling: str) -> None:
    assert spelling in spellings(secret)
    out = Redactor(SECRETS.values())(f"error: {spelling} was wrong")
    assert out == "error: *** was wrong"
    assert not any(sp in out for sp in spellings(secret))


def test_a_signature_added_with_with_secret_is_masked_with_the_others() -> None:
    base = Redactor([KEY, TOKEN])
    redact = base.with_secret(SIGNATURE)
    for secret in (KEY, TOKEN, SIGNATURE):
        for spelling in named_spellings(secret).values():
            assert redact(f"<{spelling}>") == "<***>"
    assert base(SIGNATURE) == SIGNATURE  # the base redactor is unchanged
    assert redact(f"{KEY}{SIGNATURE.upper()}{TOKEN}") == "*********"


def test_with_secret_is_cached_and_none_adds_nothing() -> None:
    base = Redactor([KEY])
    assert base.with_secret(None) is base
    assert base.with_secret("abc") is base  # too short
    assert base.with_secret(KEY) is base
    assert base.with_secret(SIGNATURE) is base.with_secret(SIGNATURE)
    text = f"{KEY} {SIGNATURE}"
    assert base.with_secret(None)(text) == base(text) == f"*** {SIGNATURE}"
    chained = base.with_secret(SIGNATURE).with_secret(TOKEN)
    assert chained(f"{TOKEN}|{SIGNATURE}|{KEY}") == "***|***|***"


def test_short_secrets_are_left_alone() -> None:
    assert Redactor(["abc", "a"])("abc a abc") == "abc a abc"
    assert Redactor(["abcd"], min_length=5)("abcd") == "abcd"
    assert Redactor(["abc"], min_length=3)("xabcx") == "x***x"


def test_text_without_secrets_is_unchanged() -> None:
    text = "error: user not found (request 12345) " * 10
    assert Redactor([KEY, TOKEN]).with_secret(SIGNATURE)(text) == text
    assert Redactor([])(text) == text


def test_matching_is_exact_unless_the_secret_is_hex() -> None:
    redact = Redactor([KEY])
    assert redact(KEY.upper()) == KEY.upper()
    assert redact(KEY.swapcase()) == KEY.swapcase()
    assert Redactor(["DeadBeef"])("deadbeef DEADBEEF DeadBeef") == "*** *** ***"


def test_the_longest_spelling_wins() -> None:
    redact = Redactor(["abcd", "abcdef"])
    assert redact("abcdef abcdeg") == "*** ***eg"
    assert redact.with_secret("abcdefgh")("abcdefgh abcdefg") == "*** ***g"
    # The leftmost match wins, as in re.sub: the overlapping "/cdef" is cut short.
    assert Redactor(["ab/cd", "/cdef"])("xab/cdefx") == "x***efx"


def test_mask_and_repr() -> None:
    assert Redactor([KEY], mask=r"\1[hidden]")(f"={KEY}=") == r"=\1[hidden]="
    assert KEY not in repr(Redactor([KEY]).with_secret(SIGNATURE))
    assert Redactor([KEY]).max_length == len(named_spellings(KEY)["u-lower"])
    assert Redactor([]).max_length == 0


# Secrets may hold anything but the mask's "*": a secret made of stars could be
# rebuilt from masks that end up side by side. Lone surrogates are allowed (an
# environment variable decoded with surrogateescape has them) except where the test
# itself must URL-encode the secret.
_SPECIAL = st.sampled_from('/+=%"\\ \x00é秘🔑')
secrets = st.text(_SPECIAL | st.characters(exclude_characters="*"), min_size=4, max_size=24)
utf8_secrets = st.text(
    _SPECIAL | st.characters(codec="utf-8", exclude_characters="*"), min_size=4, max_size=24
)


@given(secret=secrets, data=st.data())
def test_no_spelling_survives_in_any_surroundings(secret: str, data: st.DataObject) -> None:
    # No spelling holds a "*", so a surviving one would lie wholly outside the masks,
    # where re.sub (and str.replace) would have found it: the property holds for any
    # surrounding text, even text that completes a spelling across a boundary.
    affix = st.text(st.characters(exclude_characters="*"), max_size=3)
    other = data.draw(secrets | st.builds(lambda a, b: a + secret + b, affix, affix))
    pieces = data.draw(st.lists(st.text() | st.sampled_from(sorted(spellings(secret))), max_size=6))
    text = data.draw(st.sampled_from(sorted(spellings(secret)))).join(pieces or ["", ""])
    text += data.draw(st.sampled_from(sorted(spellings(other))))
    redact = Redactor([secret]).with_secret(other)
    out = redact(text)
    assert "***" in out
    for spelling in spellings(secret) | spellings(other):
        assert spelling not in out
        assert redact(spelling) == "***"  # whole, even when one secret holds the other


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@given(secret=utf8_secrets, ensure_ascii=st.booleans())
def test_echoes_decode_to_the_mask(secret: str, ensure_ascii: bool) -> None:
    redact = Redactor([secret])
    body = json.dumps({"message": f"bad key {secret}!"}, ensure_ascii=ensure_ascii)
    try:
        decoded = json.loads(redact(body))
    except ValueError:  # the secret is also spelled like the JSON around it, e.g. '": "b'
        decoded = None
    assert "***" in redact(body)
    assert not any(secret in s for s in _strings(decoded))
    for decoded_url in (
        unquote(redact(f"/x?k={quote(secret, safe='')}&a=1")),
        unquote_plus(redact(f"k={quote_plus(secret)}")),
    ):
        assert "***" in decoded_url
        assert secret not in decoded_url
    assert redact(base64.b64encode(secret.encode()).decode()) == "***"
