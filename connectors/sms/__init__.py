"""The SMS channel: a Gammu SMSD database (``gammu``) and gateway pushes over HTTP
(``sms_http``, Kannel and provider webhooks), with their sinks, options and a pure parser.
See ``README.md`` in this folder."""
