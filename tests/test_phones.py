"""Phone normalization with libphonenumber: the rules, the E.164 shortcut, the reasons."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sms_async import ConfigurationError

phonenumbers = pytest.importorskip("phonenumbers")

from sms_async._json import FAST  # noqa: E402  # after the importorskip
from sms_async._phones import (  # noqa: E402  # after the importorskip
    OTHER_CHARACTERS as OTHER,
)
from sms_async._phones import (  # noqa: E402  # after the importorskip
    PhoneNormalizer,
    PhoneRules,
    country_code,
    e164_json_pattern,
)
from sms_async._validation import quick_json  # noqa: E402  # after the importorskip

# (region, as written, E.164 or None when refused, words of the reason)
CASES = [
    # China: national, spaces, dashes, parentheses, 00 and + prefixes, trunk 0
    ("CN", "138 0013 8000", "+8613800138000", None),
    ("CN", "13800138000", "+8613800138000", None),
    ("CN", "+86 (138) 0013-8000", "+8613800138000", None),
    ("CN", "0086 13800138000", "+8613800138000", None),
    ("CN", "+86-138-0013-8000", "+8613800138000", None),
    ("CN", "010 1234 5678", "+861012345678", None),
    ("CN", "+8613800138000", "+8613800138000", None),
    ("CN", "138", None, "too short"),
    ("CN", "call me", None, OTHER),
    ("CN", "+86 1380013800012345", None, "too long"),
    # what libphonenumber would drop or convert, sending another number: refused
    ("CN", "1380013800O", None, OTHER),  # the letter O typed for a zero
    ("CN", "13800138000;13900139000", None, OTHER),  # two numbers in one cell
    ("CN", "138 0013 8000 x12", None, OTHER),  # an extension
    ("CN", "138 0013 8000~8005", None, OTHER),  # a range: ~ would mark an extension
    ("CN", "138 0013 8000\uff5e5", None, OTHER),  # and so would the full-width tilde
    ("CN", "138\n0013 8000", None, OTHER),
    ("CN", "138\u00a00013\u30008000", "+8613800138000", None),  # no-break, ideographic spaces
    ("CN", "138/0013.8000", "+8613800138000", None),
    ("CN", "---", None, "not a phone number"),
    ("CN", "+86 010 1234 567", "+86101234567", None),
    ("CN", "138 0013 8000/1", "+86138001380001", None),  # a slash joins: one longer number
    # written back as +8600000000, which libphonenumber would read as +860000000
    ("CN", "000000000", None, "not a possible number"),
    # United States
    ("US", "(415) 555-2671", "+14155552671", None),
    ("US", "415.555.2671", "+14155552671", None),
    ("US", "1 415 555 2671", "+14155552671", None),
    ("US", "+1 415-555-2671", "+14155552671", None),
    ("US", "011 44 20 7946 0958", "+442079460958", None),
    # from the US, 00 is no international prefix (011 is): the digits are one long number
    ("US", "00 1 415 555 2671", None, "too long"),
    ("US", "555-2671", None, "a local number without its area code"),
    ("US", "415 555 26", None, "too short"),
    ("US", "+1 (415) 555-2671", "+14155552671", None),
    ("US", "1-800-FLOWERS", None, OTHER),  # a keypad word
    ("US", "(415) 555-2671 ext. 5", None, OTHER),
    ("US", "FOUR-ONE-FIVE", None, OTHER),
    # United Kingdom: trunk 0, 00 prefix
    ("GB", "020 7946 0958", "+442079460958", None),
    ("GB", "(020) 7946-0958", "+442079460958", None),
    ("GB", "0044 20 7946 0958", "+442079460958", None),
    ("GB", "+44 (0)20 7946 0958", "+442079460958", None),
    ("GB", "07700 900123", "+447700900123", None),
    ("GB", "0207", None, "a local number without its area code"),
    ("GB", "0 20", None, "too short"),
    ("GB", "+44 1", None, "too short"),
    ("GB", "+4402079460958", "+442079460958", None),  # the trunk 0 after the country code
    ("GB", "+44 7700 900123", "+447700900123", None),
    ("GB", "020 7946 0958 1234 5678", None, "too long"),
    ("GB", "phone me", None, OTHER),
    # India
    ("IN", "098765 43210", "+919876543210", None),
    ("IN", "98765-43210", "+919876543210", None),
    ("IN", "+91 98765 43210", "+919876543210", None),
    ("IN", "0091 98765 43210", "+919876543210", None),
    ("IN", "98765", None, "too short"),
    ("IN", "(0) 98765 43210", "+919876543210", None),
    ("IN", "+91-98765-43210", "+919876543210", None),
    ("IN", "+91 98765", None, "too short"),
    ("IN", "ninety", None, OTHER),
    # Brazil
    ("BR", "(11) 91234-5678", "+5511912345678", None),
    ("BR", "11 91234 5678", "+5511912345678", None),
    ("BR", "+55 11 91234-5678", "+5511912345678", None),
    ("BR", "0 11 91234 5678", "+5511912345678", None),
    ("BR", "1234", None, "too short"),
    ("BR", "+55 (11) 9 1234-5678", "+5511912345678", None),
    # from Brazil, 00 is followed by a carrier code (21 here), then the country code
    ("BR", "0021 55 11 91234 5678", "+5511912345678", None),
    ("BR", "abc-defg", None, OTHER),
]


@pytest.mark.parametrize(("region", "written", "e164", "reason"), CASES)
def test_numbers_as_people_write_them(
    region: str, written: str, e164: str | None, reason: str | None
) -> None:
    normalized, why = PhoneNormalizer(region).normalize(written)
    assert normalized == e164
    assert why == reason


def test_the_region_must_be_one_libphonenumber_knows() -> None:
    assert PhoneNormalizer("cn").region == "CN"
    for bad in ("XX", "China", "", 86, None):
        with pytest.raises(ConfigurationError, match="ISO 3166"):
            PhoneNormalizer(bad)


def test_without_phonenumbers_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    with pytest.raises(ConfigurationError, match=r"sms-async\[phones\]"):
        PhoneNormalizer("CN")


@pytest.mark.parametrize("value", [None, 13800138000, b"+8613800138000", "", "   "])
def test_what_is_not_text_is_not_a_phone_number(value: object) -> None:
    assert PhoneNormalizer("CN").normalize(value) == (None, "not a phone number")


# --- the E.164 shortcut against libphonenumber itself ------------------------------------

COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _written(text: str, region: str) -> str | None:
    """What parsing and formatting give, or None when the number is refused."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != 0:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _full(text: str, region: str) -> str | None:
    """The SDK's rule by libphonenumber alone: written in E.164, and read back the same."""
    e164 = _written(text, region)
    if e164 is None or _written(e164, region) != e164:
        return None
    return e164


e164_like = st.builds(
    lambda code, digits: f"+{code}{digits}",
    st.sampled_from(COUNTRY_CODES),
    st.text(alphabet="0123456789", min_size=1, max_size=14),
)


@settings(max_examples=3000, deadline=None)
@given(text=e164_like, region=st.sampled_from(["CN", "US", "GB", "IN", "BR"]))
def test_the_shortcut_accepts_only_what_parsing_gives_back_unchanged(
    text: str, region: str
) -> None:
    normalizer = PhoneNormalizer(region)
    if normalizer.quick(text):
        assert _full(text, region) == text
    assert normalizer.normalize(text)[0] == _full(text, region)


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(e164_like, min_size=1, max_size=20))
def test_a_batch_passes_the_shortcut_exactly_when_each_of_its_numbers_does(
    batch: list[str],
) -> None:
    normalizer = PhoneNormalizer("CN")
    assert normalizer.quick_all(batch) == all(normalizer.quick(text) for text in batch)


@pytest.mark.skipif(not FAST, reason="the chunk path needs orjson")
@settings(max_examples=1000, deadline=None)
@given(batch=st.lists(e164_like | st.text(max_size=16), min_size=1, max_size=8))
@example(batch=["+8613800138000", "+8613800138001"])
@example(batch=["+8613800138000", "13800138001"])
@example(batch=["+8613800138000\n+8613800138001"])
def test_an_uploaded_chunk_passes_the_shortcut_exactly_when_each_of_its_numbers_does(
    batch: list[str],
) -> None:
    # the upload's chunk path, for a client with a region: phones within the members' JSON
    normalizer = PhoneNormalizer("CN")
    members = [{"phone": phone, "name": "n"} for phone in batch]
    every = all(normalizer.quick(phone) for phone in batch)
    # the pattern of every country, and the rules' choice (the first phone's country first)
    for taken in (quick_json(members, e164_json_pattern()), PhoneRules(normalizer).quick(members)):
        assert (taken is not None) == every
        if taken is not None:
            assert taken[1] == batch
    code = country_code(batch[0])
    if code is not None:  # the pattern of one country takes only that country's
        one = quick_json(members, e164_json_pattern(code))
        assert (one is not None) == (every and all(country_code(p) == code for p in batch))


def _guarded_codes() -> list[int]:
    """Country codes whose national prefix pattern holds a ``$`` (the number's end)."""
    metadata_for = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code
    codes = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        metadata = metadata_for(code, regions[0])
        prefix = metadata.national_prefix_for_parsing if metadata is not None else None
        if prefix and "$" in prefix:
            codes.append(code)
    return sorted(codes)


@pytest.mark.skipif(not FAST, reason="the chunk path needs orjson")
@pytest.mark.parametrize("code", _guarded_codes() or [81])
def test_a_national_prefix_that_ends_the_number_guards_the_chunk_path_too(code: int) -> None:
    # "$" in the metadata ends the national number: a quote in the JSON, a line in a batch
    normalizer = PhoneNormalizer("CN")
    patterns = (e164_json_pattern(), e164_json_pattern(str(code)))
    for length in range(1, 16):
        for digits in ("0" * length, "1" * length, ("0" + "1" * 14)[:length]):
            phone = f"+{code}{digits}"
            one = normalizer.quick(phone)
            for pattern in patterns:
                text = b'[{"phone":"%s"}]' % phone.encode()
                assert (pattern.fullmatch(text) is not None) == one
            assert normalizer.quick_all([phone, "+8613800138000"]) == one  # not the last line


national = st.text(alphabet="0123456789 -()", min_size=4, max_size=18)


@settings(max_examples=1000, deadline=None)
@given(text=national | e164_like, region=st.sampled_from(["CN", "US", "GB", "IN", "BR"]))
@example(text="000000000", region="CN")  # the trunk prefix again, after the country code
def test_normalizing_an_e164_number_is_the_identity(text: str, region: str) -> None:
    normalizer = PhoneNormalizer(region)
    e164, _ = normalizer.normalize(text)
    if e164 is not None:
        for other in ("CN", "US", "GB", "IN", "BR"):
            assert PhoneNormalizer(other).normalize(e164) == (e164, None)


def test_a_newline_inside_a_phone_does_not_let_it_pass_as_two_numbers() -> None:
    normalizer = PhoneNormalizer("CN")
    joined = "+8613800138000\n+8613800138001"
    assert not normalizer.quick(joined)
    assert not normalizer.quick_all([joined])
    assert not normalizer.quick_all(["+8613800138002", joined])
    assert normalizer.normalize(joined) == (None, OTHER)


def test_digits_of_other_scripts_are_parsed_to_ascii_not_kept() -> None:
    normalizer = PhoneNormalizer("CN")
    digits = "13800138000"
    full_width = "".join(chr(0xFF10 + int(c)) for c in digits)
    arabic_indic = "".join(chr(0x0660 + int(c)) for c in digits)
    for written in (f"+86{full_width}", f"+86{arabic_indic}"):
        assert not normalizer.quick(written)
        assert normalizer.normalize(written) == ("+8613800138000", None)


phone_like = st.text(
    alphabet=st.one_of(
        st.sampled_from("0123456789 +-().x/#;*~\uff5e,"),
        st.characters(categories=["Nd", "Zs", "Pd"]),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=2000, deadline=None)
@given(text=phone_like | st.text(), region=st.sampled_from(["CN", "US", "GB", "IN", "BR"]))
@example(text="(415) 555-2671 ~ 45", region="US")  # an extension's mark: nothing dropped
@example(text="138 0013 8000/1", region="CN")
def test_any_text_is_normalized_or_refused_with_a_reason_never_an_exception(
    text: str, region: str
) -> None:
    e164, reason = PhoneNormalizer(region).normalize(text)
    if e164 is None:
        assert isinstance(reason, str)
        assert reason
    else:
        assert reason is None
        assert re.fullmatch(r"\+[1-9][0-9]{1,16}", e164)
        assert PhoneNormalizer(region).normalize(e164) == (e164, None)
        # nothing written after the number is dropped: the number sent ends the text
        written = "".join(
            str(unicodedata.digit(c)) for c in text if unicodedata.digit(c, None) is not None
        )
        national = phonenumbers.national_significant_number(phonenumbers.parse(e164))
        assert written.endswith(national), (text, e164)
