"""The client's namespaces: ``contact_lists``, ``members`` and ``tasks``."""

from .contact_lists import ContactLists
from .members import Members
from .tasks import Tasks

__all__ = ["ContactLists", "Members", "Tasks"]
