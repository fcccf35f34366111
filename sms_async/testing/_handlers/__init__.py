"""The fake's endpoints, one module per namespace, as the SDK's ``sms_async.resources``.

``contact_lists``, ``members`` and ``tasks`` here answer what
``sms_async/resources/contact_lists.py``, ``members.py`` and ``tasks.py`` send;
``_base`` holds what the v1 handlers share. Every handler takes the fake's core,
the ids from the path and the ``Request``, and returns a ``Reply`` or raises
``Fail``; ``sms_async.testing._routes`` says which handler serves which request.
"""
