"""The service (``outreach-routes serve``): the ASGI app (:mod:`.app`), its storage and
accounts (:mod:`.store`) and its page templates (``templates/``). It depends on
:mod:`outreach_routes.schedule` and the run folders; nothing in the planning pipeline depends
on it."""
