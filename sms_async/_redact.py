"""Masking of secrets in every spelling a server or a library may echo them in.

A hostile server, a JSON encoder or a URL builder may echo a secret escaped or
encoded: :class:`Redactor` masks all the spellings listed by :func:`spellings`.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import string
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["Redactor", "spellings"]

_HEX_DIGITS = frozenset(string.hexdigits)
_URL_ESCAPE = re.compile(r"%[0-9A-F]{2}")  # quote() writes its escapes in upper case
_U_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")  # json.dumps() writes them in lower case
_EXTRA_CACHE_SIZE = 16


def _upper(match: re.Match[str]) -> str:
    return "\\u" + match.group()[2:].upper()


def _longest_first(spelling: str) -> tuple[int, str]:
    return -len(spelling), spelling


def spellings(secret: str) -> frozenset[str]:
    r"""Return every spelling of *secret* that a :class:`Redactor` masks.

    Args:
        secret: The text to hide.

    Returns:
        The plain text (and its upper and lower case if it is a hex string), its
        JSON escapes (``ensure_ascii`` on and off, ``/`` as ``\/`` or not), its URL
        encodings (``quote`` and ``quote_plus``, ``%xx`` in either case), its
        ``\uXXXX`` escapes (every character, or only those JSON escapes; hex digits
        in either case), the hex of its UTF-8 bytes (either case) and their base64
        (standard and URL-safe alphabets, with and without ``=`` padding).
        The empty string is never included.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    found = {secret}
    if _HEX_DIGITS.issuperset(secret):
        found |= {secret.lower(), secret.upper()}
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        for form in (escaped, _U_ESCAPE.sub(_upper, escaped)):
            found |= {form, form.replace("/", "\\/")}
    utf16 = secret.encode("utf-16-be", "surrogatepass")
    units = "".join(f"\\u{utf16[i]:02x}{utf16[i + 1]:02x}" for i in range(0, len(utf16), 2))
    found |= {units, _U_ESCAPE.sub(_upper, units)}
    for encoded in (quote(raw, safe=""), quote_plus(raw, safe="")):
        found |= {encoded, _URL_ESCAPE.sub(lambda m: m.group().lower(), encoded)}
    found |= {raw.hex(), raw.hex().upper()}
    for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        found |= {b64.decode("ascii"), b64.rstrip(b"=").decode("ascii")}
    found.discard("")
    return frozenset(found)


class Redactor:
    """Masks every spelling of a set of secrets in text.

    Matching is exact (only a hex secret also matches in upper and lower case) and
    takes the longest spelling first, in a single ``re.sub``. Secrets added by
    :meth:`with_secret` are masked with ``str.replace`` after it (unless one of their
    spellings contains one of the others): compiling a pattern per request's
    signature would cost milliseconds.

    Args:
        secrets: The texts to hide. Those shorter than *min_length* are ignored:
            masking a one-letter secret would destroy every message.
        mask: What each spelling is replaced with.
        min_length: The length below which a secret is not masked.
    """

    def __init__(self, secrets: Iterable[str], *, mask: str = "***", min_length: int = 4) -> None:
        self._mask = mask
        self._min_length = min_length
        self._secrets = tuple(dict.fromkeys(s for s in secrets if len(s) >= min_length))
        self._compiled = frozenset[str]().union(*map(spellings, self._secrets))
        ordered = sorted(self._compiled, key=_longest_first)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._repl = mask.replace("\\", "\\\\")  # re.sub would read escapes in the mask
        self._literal: tuple[str, ...] = ()  # spellings of the secrets added by with_secret
        self._max_length = len(ordered[0]) if ordered else 0
        self._extra = functools.lru_cache(maxsize=_EXTRA_CACHE_SIZE)(self._extend)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} secret(s)>"  # never the secrets

    @property
    def max_length(self) -> int:
        """The length of the longest spelling masked (0 if none).

        Text cut before it is masked needs this many characters past the cut.
        """
        return self._max_length

    def with_secret(self, secret: str | None) -> Redactor:
        """Return a redactor that also masks *secret* (e.g. one request's signature).

        Args:
            secret: One more text to hide; ``None`` (or one too short) adds nothing.

        Returns:
            *self* if nothing is added, otherwise a redactor (kept in a small LRU cache)
            that shares this one's compiled pattern.
        """
        if secret is None or len(secret) < self._min_length or secret in self._secrets:
            return self
        return self._extra(secret)

    def _extend(self, secret: str) -> Redactor:
        extra = spellings(secret) - self._compiled
        if any(short in long for long in extra for short in self._compiled):
            # Masked after the pattern, this spelling would lose a piece to it: compile.
            return Redactor((*self._secrets, secret), mask=self._mask, min_length=self._min_length)
        child = copy.copy(self)
        child._secrets = (*self._secrets, secret)
        child._literal = tuple(sorted(extra.union(self._literal), key=_longest_first))
        child._max_length = max(self._max_length, *map(len, extra), 0)
        child._extra = functools.lru_cache(maxsize=_EXTRA_CACHE_SIZE)(child._extend)
        return child

    def __call__(self, text: str) -> str:
        """Return *text* with every spelling of every secret replaced by the mask.

        Args:
            text: Any text: an error message, a body excerpt, a log line.

        Returns:
            The masked text (*text* itself if there is nothing to mask).
        """
        if self._pattern is not None:
            text = self._pattern.sub(self._repl, text)
        for spelling in self._literal:
            if spelling in text:
                text = text.replace(spelling, self._mask)
        return text
