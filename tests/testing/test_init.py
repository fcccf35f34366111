"""``sms_async.testing`` itself: its public surface."""

from __future__ import annotations

import inspect

import sms_async.testing


def test_the_public_surface_is_documented() -> None:
    names = sms_async.testing.__all__
    assert len(set(names)) == len(names)  # ruff (RUF022) keeps it sorted
    for name in names:
        obj = getattr(sms_async.testing, name)
        if isinstance(obj, str | tuple) or name == "FaultKind":
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = member.fget if isinstance(member, property) else member
                if callable(target):
                    assert inspect.getdoc(target), f"{name}.{attr}"
