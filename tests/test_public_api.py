import inspect
from pathlib import Path

import sms_async


def test_all_is_sorted_and_importable() -> None:
    assert sms_async.__all__ == sorted(sms_async.__all__, key=str)
    for name in sms_async.__all__:
        assert hasattr(sms_async, name), name


def test_every_public_name_has_a_docstring() -> None:
    for name in sms_async.__all__:
        obj = getattr(sms_async, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_resource_methods_have_docstrings() -> None:
    from sms_async.resources import ContactLists, Members, Tasks

    for cls in (ContactLists, Members, Tasks):
        for attr, member in vars(cls).items():
            if not attr.startswith("_") and callable(member):
                assert inspect.getdoc(member), f"{cls.__name__}.{attr}"


def test_py_typed_ships() -> None:
    assert (Path(sms_async.__file__).parent / "py.typed").exists()


def test_models_are_frozen_and_slotted() -> None:
    import attrs
    import pytest

    for name in (
        "ContactList",
        "Member",
        "NewMember",
        "SmsTask",
        "AddMembersResult",
        "FailedBatch",
    ):
        cls = getattr(sms_async, name)
        assert attrs.has(cls)
        assert "__slots__" in vars(cls), name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sms_async.NewMember("+1").phone = "+2"


def test_importing_the_package_imports_names_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sms_async; "
        "print(sorted(m for m in ('httpx', 'attrs', 'cattrs') if m in sys.modules)); "
        "sms_async.AsyncSmsClient; "
        "print('httpx' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["[]", "True"]
