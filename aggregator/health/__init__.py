"""Health from real outcomes and incidents with a lifecycle.

Components (each source, the LAPOR! link, the updates feed, each sink) record what happened
where it happens (``record``); their state is computed from those outcomes (``state``); the
incident loop (``incidents``) turns conditions into incidents opened and closed with damping
and tells the admin contacts (``alerts``). ``overview`` is what status, /readyz and the
dashboard show.
"""
