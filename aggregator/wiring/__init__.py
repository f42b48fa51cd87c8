"""The composition root: settings, the runtime object, the supervisor."""
