"""Optional integrations, each in an extra: ``sms_async.contrib.redis`` (``sms-async[redis]``)."""
