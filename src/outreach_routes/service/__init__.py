"""The service (``outreach-routes serve``): the ASGI app (:mod:`.app`), its storage and
accounts (:mod:`.store`), dispatch's calls (:mod:`.calls`), live updates (:mod:`.events`) and its
page templates (``templates/``). It depends on :mod:`outreach_routes.schedule` and the run
folders; nothing in the planning pipeline depends on it (``report`` reads the calls through
:func:`.store.read_calls`)."""
