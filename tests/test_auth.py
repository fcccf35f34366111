import base64
import hashlib

import pytest

from sms_async import sign_params
from sms_async._auth import basic_auth_header, signature_string


def test_basic_auth_header_is_base64_of_user_colon_key() -> None:
    header = basic_auth_header("alice", "k3y")
    assert header == "Basic " + base64.b64encode(b"alice:k3y").decode()
    assert base64.b64decode(header.split()[1]) == b"alice:k3y"


def test_signature_string_sorts_names_and_wraps_in_key() -> None:
    params = {"taskId": "472", "smsUser": "u"}
    assert signature_string(params, "KEY") == "KEY&smsUser=u&taskId=472&KEY"


def test_signature_string_leaves_out_signature_and_smskey() -> None:
    params = {"smsUser": "u", "signature": "old", "smsKey": "leak", "b": "2"}
    assert signature_string(params, "K") == "K&b=2&smsUser=u&K"


def test_md5_vector_with_chinese_and_reserved_characters() -> None:
    params = {
        "smsUser": "user1",
        "taskName": "促销&活动=双十一",
        "contactListName": "a;b",
        "templateId": "999",
    }
    # Computed by hand: names sorted A-Z, values raw (not URL-encoded).
    expected_string = (
        "KEY&contactListName=a;b&smsUser=user1&taskName=促销&活动=双十一&templateId=999&KEY"
    )
    expected = hashlib.md5(expected_string.encode("utf-8")).hexdigest()
    assert sign_params(params, "KEY") == expected
    assert sign_params(params, "KEY", "md5") == expected


def test_sha256_vector() -> None:
    params = {"smsUser": "u", "taskId": "7"}
    expected = hashlib.sha256(b"K&smsUser=u&taskId=7&K").hexdigest()
    assert sign_params(params, "K", "sha256") == expected


def test_known_md5_literal() -> None:
    # md5 of "k&a=1&k", computed once outside the SDK.
    assert sign_params({"a": "1"}, "k") == "67c743589b3ca87beab1acefd8b1114b"


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signature method"):
        sign_params({"a": "1"}, "k", "sha1")
