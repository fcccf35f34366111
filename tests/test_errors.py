"""The exception classes (``_errors.py``): their attributes, texts and pickling."""

import pickle

from sms_async import RateLimitError, SmsError


def test_errors_pickle_round_trip() -> None:
    err = RateLimitError("slow", status_code=429, code=1, body="b", retry_after=2.0)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is RateLimitError
    assert (back.status_code, back.code, back.retry_after, str(back)) == (429, 1, 2.0, str(err))


def test_validation_error_is_a_value_error() -> None:
    from sms_async import ValidationError

    assert issubclass(ValidationError, ValueError)
    assert issubclass(ValidationError, SmsError)


def test_bulk_errors_pickle_round_trip() -> None:
    from sms_async import AddMembersResult, BulkAddAbortedError, FailedBatch, NewMember

    failed = FailedBatch([NewMember("+1555")], RateLimitError("slow", status_code=429))
    result = AddMembersResult(count=3, invalid=["x"], failed=[failed])
    err = BulkAddAbortedError(
        result, "stopped at AuthenticationError, which every later batch would meet"
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is BulkAddAbortedError
    assert (back.result.count, back.reason, str(back)) == (3, err.reason, str(err))
    assert back.result.failed[0].maybe_stored is False
    assert str(err).startswith("stopped at AuthenticationError, which every later batch")


def test_request_sent_pickles_with_a_connection_error() -> None:
    from sms_async import APIConnectionError

    err = APIConnectionError("refused", method="POST", path="/v1/x", request_sent=False)
    back = pickle.loads(pickle.dumps(err))
    assert (back.request_sent, back.method, back.path) == (False, "POST", "/v1/x")
