"""Phone numbers as people write them, normalized to E.164 with Google's libphonenumber.

``AsyncSmsClient(default_region="CN")`` (extra ``sms-async[phones]``) sends every
phone in E.164: "138 0013 8000", "+86 (138) 0013-8000" and "0086 13800138000"
all become "+8613800138000". A number that cannot be parsed, or whose length
is not possible for its country, is refused with the reason.

**Cost.** ``phonenumbers.parse`` costs tens of microseconds per number. Most
uploads already hold E.164 numbers, and for those the answer is known
without parsing: a "+", a country code, and a national number that (a) has
a length the country's numbers can have, and (b) does not begin with what
the country's national prefix rule would strip. Then parsing and formatting
would give the same text back, so it is kept as it is. One regular
expression, built once from libphonenumber's own metadata, checks a whole
batch of such numbers in a single call; any other number goes through
``phonenumbers.parse`` (hypothesis tests hold the shortcut to the full path).

Only digits, spaces and the punctuation people put in phones are taken: a
letter, an extension or a second number is refused, where libphonenumber would
drop it or read letters as on a keypad, and another number would be sent.

phonenumbers is imported only when a client asks for a region, and its
metadata (about 100 ms of CPU, once per process) only when the first phone is
normalized.

``PhoneRules`` is what the SDK does to the phones of an upload before sending
them: normalization (with a region) and, with ``dedupe=True``, the refusal of a
phone an earlier row of the same upload already had.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError, ValidationError
from ._validation import members_json_pattern, quick_json

if TYPE_CHECKING:
    from ._bulk import Batch

__all__ = ["DUPLICATE", "PhoneNormalizer", "PhoneRules", "load_phonenumbers"]

#: Why a phone is refused by ``dedupe=True``.
DUPLICATE = "duplicate of an earlier row"

#: What a phone may hold besides digits (of any script) and spaces: plus signs, dashes,
#: dots, slashes, brackets, and the invisible characters copy and paste leaves.
_PUNCTUATION = (
    "+\uff0b"  # plus signs
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d"  # dashes
    # not "~" nor "\uff5e": libphonenumber reads them as an extension's mark, dropping
    # what follows ("138 0013 8000~8005", a range, would be sent as its first number)
    ".()[]/\uff08\uff09\uff3b\uff3d\uff0f\u2053\u223c"  # dots, brackets, slashes, ...
    "\xad\u200b\u2060"  # soft hyphen, zero-width space and joiner
)
#: Spaces within a line (a line break is no part of a phone).
_SPACES = " \xa0\u2000-\u200a\u202f\u205f\u3000"
#: A phone as written: anything else (a letter, an extension, ";" before a second
#: number, a typo such as the letter O for a zero) is refused, not dropped: libphonenumber
#: would drop it, or read letters as on a keypad, and send another number.
_WRITTEN = re.compile(f"(?:\\d|[{_SPACES}{re.escape(_PUNCTUATION)}])+")
#: The reason given for a phone with other characters.
OTHER_CHARACTERS = "holds characters that are not part of a phone number"

#: Why libphonenumber refused a number (by the name of its reason), as the SDK says it.
_REASONS = {
    "INVALID_COUNTRY_CODE": "invalid country code",
    "NOT_A_NUMBER": "not a phone number",
    "TOO_SHORT_AFTER_IDD": "too short after the international prefix",
    "TOO_SHORT_NSN": "too short",
    "TOO_SHORT": "too short",
    "TOO_LONG": "too long",
    "IS_POSSIBLE_LOCAL_ONLY": "a local number without its area code",
    "INVALID_LENGTH": "not a possible length for its region",
}


def _reason(kind: type, value: int) -> str:
    """The SDK's words for libphonenumber's reason *value* (a constant of class *kind*)."""
    for name, words in _REASONS.items():
        if getattr(kind, name, None) == value:
            return words
    return "not a possible number"


def load_phonenumbers() -> Any:
    """Import phonenumbers, or raise ``ConfigurationError`` saying how to install it."""
    try:
        import phonenumbers
    except ImportError:
        raise ConfigurationError(
            "default_region needs phonenumbers: pip install 'sms-async[phones]'"
        ) from None
    return phonenumbers


@functools.cache
def _e164_pattern() -> re.Pattern[str]:
    """Lines of numbers already in E.164 that libphonenumber gives back unchanged, and possible."""
    one = _e164_source("\\n|\\Z")
    # ASCII: digits of other scripts are left to parsing, which makes them ASCII
    return re.compile(f"{one}(?:\\n{one})*", re.ASCII)


@functools.cache
def e164_json_pattern(code: str | None = None) -> re.Pattern[bytes]:
    """``quick_json``'s pattern for a client with a region: phones already in E.164.

    A chunk of members it takes needs no normalizing: each phone is one that
    ``PhoneNormalizer.quick`` passes (tested to agree). With *code* (a country
    calling code, as digits), only phones of that country: a pattern the regex
    engine runs faster than the one of every country.
    """
    quote = '"'
    phone = _e164_source(quote) if code is None else "\\+" + code + _national_sources(quote)[code]
    return members_json_pattern(b'"' + phone.encode("ascii") + b'"')


def country_code(phone: object) -> str | None:
    """The country calling code *phone* (``+`` and digits) begins with, or ``None``."""
    if type(phone) is not str or phone[:1] != "+":
        return None
    codes = _national_sources('"')
    for size in (1, 2, 3):  # the codes are prefix-free: at most one of these is one
        if phone[1 : 1 + size] in codes:
            return phone[1 : 1 + size]
    return None


@functools.cache
def _e164_source(end: str) -> str:
    """One number already in E.164 that libphonenumber would give back unchanged, and possible.

    For every country code: the country code, then its national number
    (``_national_sources``).
    """
    # A trie of the country codes (they are prefix-free), so that the engine finds a
    # number's country in a few steps instead of trying 200 alternatives in turn.
    trie: dict[str, Any] = {}
    for code, national in _national_sources(end).items():
        node = trie
        for digit in code:
            node = node.setdefault(digit, {})
        node[""] = national
    return "\\+" + _alternatives(trie)


@functools.cache
def _national_sources(end: str) -> dict[str, str]:
    """For each country calling code, its national numbers that are already as sent.

    Unless the national number begins with what the country's
    ``national_prefix_for_parsing`` matches (parsing might strip it), a
    national number of a possible length (not a local-only one), then what
    *end* matches.
    """
    phonenumbers = load_phonenumbers()
    metadata_for = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code
    sources: dict[str, str] = {}
    lookahead = f"(?={end})"

    def ending(_: re.Match[str]) -> str:
        return lookahead

    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        metadata = metadata_for(code, regions[0])
        if metadata is None or metadata.general_desc is None:
            continue
        desc = metadata.general_desc
        local = set(desc.possible_length_local_only or ())
        lengths = sorted(n for n in desc.possible_length or () if n > 0 and n not in local)
        if not lengths:
            continue
        digits = _lengths(lengths, end)
        prefix = metadata.national_prefix_for_parsing
        # In the metadata, "$" ends the national number: here it is followed by *end*
        # (in a batch's JSON a quote, not the end of the text).
        prefix = _NUMBER_END.sub(ending, prefix) if prefix else ""
        guard = f"(?!(?:{prefix}))" if prefix else ""
        sources[str(code)] = f"{guard}{digits}"
    return sources


#: An unescaped ``$`` of a metadata pattern.
_NUMBER_END = re.compile(r"(?<!\\)\$")


def _lengths(lengths: list[int], end: str) -> str:
    """Digits of one of *lengths*, then *end*: possessive, never backtracking.

    Written ``[0-9]``: ASCII digits, in a str and in a bytes pattern alike.
    """
    runs: list[list[int]] = []
    for n in lengths:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    counts = "|".join(
        f"[0-9]{{{low}}}+" if low == high else f"[0-9]{{{low},{high}}}+" for low, high in runs
    )
    return f"(?:{counts})(?={end})"


def _alternatives(node: dict[str, Any]) -> str:
    """The regular expression of a trie node: its children, or the national number at a leaf."""
    if "" in node:
        leaf: str = node[""]
        return leaf
    return "(?:" + "|".join(digit + _alternatives(node[digit]) for digit in sorted(node)) + ")"


class PhoneNormalizer:
    """Normalizes phones to E.164 for one default region (an ISO 3166 alpha-2 code)."""

    __slots__ = ("_e164", "_format", "_parse", "_phonenumbers", "region")

    def __init__(self, region: object) -> None:
        phonenumbers = load_phonenumbers()
        if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigurationError(
                "default_region must be an ISO 3166 alpha-2 region that libphonenumber "
                f'knows ("CN", "US", "GB", ...), got {region!r}'
            )
        self.region = region.upper()
        self._phonenumbers = phonenumbers
        self._e164: re.Pattern[str] | None = None  # built on first use: it loads the metadata
        self._parse = phonenumbers.parse
        self._format = phonenumbers.format_number

    def __repr__(self) -> str:
        return f"PhoneNormalizer({self.region!r})"

    def _pattern(self) -> re.Pattern[str]:
        if self._e164 is None:
            self._e164 = _e164_pattern()
        return self._e164

    def quick(self, phone: str) -> bool:
        """Whether *phone* is already E.164 that normalizing gives back unchanged."""
        return "\n" not in phone and self._pattern().fullmatch(phone) is not None

    def quick_all(self, phones: Sequence[str]) -> bool:
        """Whether every one of *phones* passes ``quick``: one call for them all."""
        text = "\n".join(phones)
        # a newline inside a phone would let it pass as two numbers
        if text.count("\n") != len(phones) - 1:
            return False
        return self._pattern().fullmatch(text) is not None

    def e164(self, phone: object) -> str:
        """*phone* in E.164, as a single call sends it; else ``ValidationError`` with the reason."""
        e164, reason = self.normalize(phone)
        if e164 is None:
            raise ValidationError(
                f"phone {phone!r} is not a possible number (default_region {self.region}): {reason}"
            )
        return e164

    def normalize(self, phone: object) -> tuple[str | None, str | None]:
        """``(e164, None)`` for a number this region's rules accept, else ``(None, reason)``."""
        if not isinstance(phone, str) or not phone.strip():
            return None, "not a phone number"
        if self.quick(phone):
            return phone, None
        if not _WRITTEN.fullmatch(phone):
            return None, OTHER_CHARACTERS
        e164, reason = self._parsed(phone)
        if e164 is not None and not self.quick(e164) and self._parsed(e164)[0] != e164:
            # libphonenumber does not read every number it writes back as the same one
            # (a national number that begins with the trunk prefix, "+8600...": it would
            # strip that again): refused, so that normalizing twice changes nothing.
            return None, "not a possible number"
        return e164, reason

    def _parsed(self, text: str) -> tuple[str | None, str | None]:
        """How libphonenumber reads *text* in this region: ``(e164, None)`` or ``(None, why)``."""
        phonenumbers = self._phonenumbers
        try:
            number = self._parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            return None, _reason(phonenumbers.NumberParseException, exc.error_type)
        verdict = phonenumbers.is_possible_number_with_reason(number)
        if verdict != phonenumbers.ValidationResult.IS_POSSIBLE:
            return None, _reason(phonenumbers.ValidationResult, verdict)
        e164: str = self._format(number, phonenumbers.PhoneNumberFormat.E164)
        return e164, None


class PhoneRules:
    """What the SDK does to each phone before sending it: normalize, and refuse repeats.

    Args:
        normalizer: The client's ``PhoneNormalizer`` (its ``default_region``), or
            ``None``: phones are sent as written.
        dedupe: Refuse a phone (as it is sent) that an earlier phone of the same
            upload already was, with the reason ``DUPLICATE``. The phones seen are
            held as integers in a set: about 70 MB per million distinct phones.
    """

    __slots__ = ("_normalizer", "_seen")

    def __init__(self, normalizer: PhoneNormalizer | None, *, dedupe: bool = False) -> None:
        self._normalizer = normalizer
        self._seen: set[int | str] | None = set() if dedupe else None

    @property
    def region(self) -> str | None:
        """The region phones are normalized for, or ``None``."""
        return None if self._normalizer is None else self._normalizer.region

    @property
    def active(self) -> bool:
        """Whether these rules change or refuse anything (a region, or dedupe)."""
        return self._normalizer is not None or self._seen is not None

    def normalize(self, phone: object) -> tuple[str | None, str | None]:
        """``(phone as sent, None)``, or ``(None, why it is refused)`` (without dedupe)."""
        if self._normalizer is None:
            return (phone, None) if isinstance(phone, str) else (None, "not a phone number")
        return self._normalizer.normalize(phone)

    def first_time(self, phone: str) -> bool:
        """With dedupe, whether *phone* (as sent) is new to this upload; then remember it."""
        seen = self._seen
        if seen is None:
            return True
        key = _key(phone)
        if key in seen:
            return False
        seen.add(key)
        return True

    def quick(self, members: list[Any]) -> tuple[bytes, list[str]] | None:
        """``quick_json`` for an upload with these rules: with a region, phones in E.164 only.

        A chunk is usually of one country: the pattern of the first member's
        country is tried first, then the one of every country.
        """
        if self._normalizer is None:
            return quick_json(members)
        first = members[0] if members else None
        code = country_code(first.get("phone")) if type(first) is dict else None
        if code is None:
            return quick_json(members, e164_json_pattern())
        return quick_json(members, e164_json_pattern(code), e164_json_pattern())

    def refine(self, batch: Batch, start: int, invalid: list[str]) -> int:
        """Normalize (and dedupe) the phones of the members of *batch* from *start* on.

        A refused member is taken out of *batch*, its phone as written appended to
        *invalid*; returns how many were refused. A member whose phone changes is
        replaced by a copy (the caller's dicts are never changed). A batch already
        in E.164 passes one regular expression and is left as it is (its JSON too).
        """
        normalizer, seen = self._normalizer, self._seen
        parse = (
            normalizer is not None
            and not batch.is_json  # read by ``quick``: every phone is in E.164 already
            and not normalizer.quick_all(batch.phones[start:])
        )
        if not parse and seen is None:
            return 0
        members = batch.members()
        kept = start
        for member in itertools.islice(members, start, None):
            phone = sent = member["phone"]
            if parse:
                assert normalizer is not None
                sent, _ = normalizer.normalize(phone)
                if sent is None:
                    invalid.append(phone)
                    continue
            if seen is not None and not self.first_time(sent):
                invalid.append(phone)
                continue
            members[kept] = member if sent == phone else {**member, "phone": sent}
            kept += 1
        refused = len(members) - kept
        del members[kept:]
        return refused


#: Longer phones are held as text (``int()`` refuses more than 4300 digits).
_LONGEST_AS_INT = 40


def _key(phone: str) -> int | str:
    """*phone* (digits, optional leading ``+``) as a distinct integer: smaller than the text."""
    if len(phone) > _LONGEST_AS_INT:
        return phone
    if phone[:1] == "+":
        return int("1" + phone[1:]) * 2 + 1
    return int("1" + phone) * 2
