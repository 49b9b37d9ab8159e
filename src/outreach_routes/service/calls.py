"""Dispatch's calls: a scene request offered to the nearest free team, accepted or passed on,
and timed to the team's arrival (issue 35).

A call is a small state machine, kept as append-only events in the service's database
(:meth:`.store.Store.call_write`)::

    offered (to one team) -> accepted (with its walking ETA) -> on_scene -> closed (outcome)
           \\-> cannot / passed (no answer in time) -> offered to the next team ... -> unanswered
    any open state -> cancelled (dispatch or a coordinator)

The offer order is the ranking ``where`` gives (:func:`..schedule.nearest_teams`, from each
team's fresh check-in or the plan), asked again at each offer. A team on an accepted call is
skipped; a team holding another call's offer is skipped while a free team remains; a team that
accepts a call loses its other offers at once. Each offer waits ``scene_answer_min``; the call
gives up after ``scene_give_up_min``. The timers are rows with a due time (``call_timers``),
read by one loop (:meth:`Calls.run`) that wakes at least twice a second: never in-memory
timers, so a server killed mid-offer carries on when restarted.

Every change is published to the event broker (:mod:`.events`) as it is stored.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from .store import Store, User, utc

__all__ = ["CANNOT_REASONS", "OUTCOMES", "CallRefused", "Calls", "OPEN"]

CANNOT_REASONS = ("already engaged", "too far", "unsafe", "other")
OUTCOMES = ("de-escalated", "no contact made", "police handled it", "false alarm", "other")
OPEN = ("offered", "accepted", "on_scene")
BUSY = ("accepted", "on_scene")
TONIGHT_H = 12  # calls older than this no longer keep a team busy or hold its offers
WAKE_S = 0.5  # the timer loop looks at least this often: an offer passes on within a second
RETRY_S = 10.0  # after a failed turn (no plan being served, a full disk), the loop waits this


class CallRefused(Exception):
    """A change of a call that cannot be made: ``status`` (403, 404, 409, 422) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Ranking = Callable[[float, float, dt.datetime], list[dict[str, Any]]]


class Calls:
    """The calls of one service: made, answered, timed, published.

    Parameters
    ----------
    store
        The service's database.
    rank
        ``(lat, lon, when) -> teams on shift``, nearest first, each with ``team``,
        ``walk_min`` and ``distance_km`` (what ``where`` answers at that time and place).
    clock
        The service's clock (an aware time).
    zone
        The city's time zone, for the times the API gives.
    contacts
        ``() -> (team -> its phone line, the coordinators' line)``.
    corner
        ``(lat, lon) -> the name of the street corner there``, or None: the place in words.
    publish
        Called with each stored event and its call, after it is stored.
    answer_min, give_up_min
        ``[service] scene_answer_min`` and ``scene_give_up_min``.
    """

    def __init__(
        self,
        store: Store,
        *,
        rank: Ranking,
        clock: Callable[[], dt.datetime],
        zone: Callable[[], ZoneInfo],
        contacts: Callable[[], tuple[dict[str, str], str]],
        corner: Callable[[float, float], str | None] = lambda lat, lon: None,
        publish: Callable[[dict[str, Any], dict[str, Any]], None],
        answer_min: float,
        give_up_min: float,
    ) -> None:
        self.store = store
        self.rank = rank
        self.clock = clock
        self.zone = zone
        self.contacts = contacts
        self.corner = corner
        self.publish = publish
        self._answer_after = dt.timedelta(minutes=answer_min)
        self._give_up_after = dt.timedelta(minutes=give_up_min)
        self.answer_min, self.give_up_min = answer_min, give_up_min
        self._lock = threading.RLock()  # one change of any call at a time
        self._wake = threading.Event()

    # --- the changes ------------------------------------------------------------------------

    def ask(self, user: User, call: dict[str, Any], ranked: list[dict[str, Any]]) -> dict:
        """A new call (``id``, ``lat``, ``lon``, ``place``, ``asked_by``, ``note``), offered
        to the first team of ``ranked`` that may take it; unanswered at once when none can."""
        with self._lock:
            when = self.clock()
            row = {**call, "created_at": utc(when), "user": user.name, "state": "offered"}
            row["nearest_team"] = ranked[0]["team"] if ranked else None
            events, timers = self._offer_next(row["id"], [], ranked, when, user.name)
            if events[-1]["state"] == "offered":
                timers["give_up"] = (None, utc(when + self._give_up_after))
            stored = self.store.call_write(row["id"], events, new=row, timers=timers)
            assert stored is not None
            self._wake.set()
        return self._published(row["id"], stored)

    def answer(
        self, user: User, call_id: str, answer: str, reason: str | None, note: str | None
    ) -> dict:
        """The offered team says "going" (accepted, with its ETA, and a ``responding``
        check-in) or "cannot" (with a reason: the call passes to the next team)."""
        with self._lock:
            call = self._get(call_id)
            when = self.clock()
            if user.role != "team":
                raise CallRefused(403, "only the team offered the call answers it")
            offered = [e for e in call["events"] if e["state"] == "offered"]
            if not any(e["team"] == user.team for e in offered):
                raise CallRefused(403, "this call was not offered to your team")
            if call["state"] != "offered" or call["team"] != user.team:
                raise CallRefused(409, self._moved_on(call, user.team))
            if answer == "going":
                offer = offered[-1]
                eta = when + dt.timedelta(minutes=offer["walk_min"] or 0)
                event = {"state": "accepted", "team": user.team, "at": utc(when),
                         "by": user.name, "walk_min": offer["walk_min"],
                         "distance_km": offer["distance_km"], "eta": utc(eta)}  # fmt: skip
                checkin = _responding(call_id, user, when.astimezone(self.zone()))
                stored = self._write(call, [event], {"offer": None, "give_up": None}, checkin)
                published = self._published(call_id, stored)
                self._take_back_offers(user.team or "", call_id, when)
                return published
            why = reason if reason != "other" else f"other: {note}"
            event = {"state": "cannot", "team": user.team, "at": utc(when), "by": user.name,
                     "reason": why}  # fmt: skip
            events, timers = self._offer_next(call_id, call["events"] + [event], None, when,
                                              user.name, call=call)  # fmt: skip
            return self._published(call_id, self._write(call, [event, *events], timers))

    def arrived(self, user: User, call_id: str) -> dict:
        """The accepting team (or a coordinator) is at the scene."""
        return self._step(user, call_id, ("accepted",), "on_scene", None)

    def close(self, user: User, call_id: str, outcome: str, note: str | None) -> dict:
        """The accepting team (or a coordinator) is done: the call is closed with its
        outcome."""
        why = outcome if outcome != "other" else f"other: {note}"
        return self._step(user, call_id, BUSY, "closed", why)

    def cancel(self, user: User, call_id: str) -> dict:
        """Dispatch or a coordinator calls it off while it is open."""
        if user.role not in ("dispatch", "coordinator"):
            raise CallRefused(403, "only dispatch or a coordinator cancels a call")
        return self._step(user, call_id, OPEN, "cancelled", None)

    def _step(
        self, user: User, call_id: str, source: tuple[str, ...], target: str, reason: str | None
    ) -> dict:
        with self._lock:
            call = self._get(call_id)
            when = self.clock()
            if target != "cancelled" and not (
                user.role == "coordinator"
                or (user.role == "team" and user.team == call["team"] and call["state"] in BUSY)
            ):
                raise CallRefused(403, "only the team that accepted the call (or a coordinator) "
                                  "marks it at the scene or done")  # fmt: skip
            if call["state"] not in source:
                when_ok = " or ".join(map(_said, source))
                raise CallRefused(
                    409,
                    f"the call is {_said(call['state'])}; it can be marked {_said(target)} "
                    f"only when {when_ok}",
                )
            event = {"state": target, "team": call["team"], "at": utc(when), "by": user.name,
                     "reason": reason}  # fmt: skip
            stored = self._write(call, [event], {"offer": None, "give_up": None})
        return self._published(call_id, stored)

    # --- the timers -------------------------------------------------------------------------

    def tick(self) -> int:
        """Pass on every offer past its time, and give up on every call past its time: the
        number of timers that fired."""
        fired = 0
        for timer in self.store.due_timers(self.clock()):
            with self._lock:
                call = self.store.call(timer["call_id"])
                if call is None:
                    continue
                when = self.clock()
                fired += 1
                stale = call["state"] != "offered" or (
                    timer["kind"] == "offer" and call["team"] != timer["team"]
                )
                if stale:  # answered meanwhile: the timer goes
                    self._write(call, [], {timer["kind"]: None})
                    continue
                if timer["kind"] == "offer":
                    why = f"no answer in {self.answer_min:g} min"
                    passed = {"state": "passed", "team": call["team"], "at": utc(when),
                              "by": "service", "reason": why}  # fmt: skip
                    events, timers = self._offer_next(call["id"], call["events"] + [passed],
                                                      None, when, "service", call=call)  # fmt: skip
                    events = [passed, *events]
                else:
                    events = [
                        {"state": "passed", "team": call["team"], "at": utc(when),
                         "by": "service", "reason": "the call gave up"},
                        {"state": "unanswered", "team": None, "at": utc(when), "by": "service",
                         "reason": f"no team accepted in {self.give_up_min:g} min"},
                    ]  # fmt: skip
                    timers = {"offer": None, "give_up": None}
                stored = self._write(call, events, timers)
                self._published(call["id"], stored)
        return fired

    def run(self) -> None:
        """The timer loop: forever, fire what is due, then sleep until the next timer (at most
        ``WAKE_S``) or until a new call wakes it."""
        while True:
            try:
                self.tick()
            except Exception:  # no plan yet, a full disk: say so, keep the loop, try later
                traceback.print_exc(file=sys.stderr)
                self._wake.wait(RETRY_S)
                self._wake.clear()
                continue
            wait = WAKE_S
            due = self.store.next_timer()
            if due is not None:
                left = (dt.datetime.fromisoformat(due) - self.clock()).total_seconds()
                wait = min(max(left, 0.02), WAKE_S)
            self._wake.wait(wait)
            self._wake.clear()

    def start(self) -> None:
        threading.Thread(target=self.run, name="outreach-routes calls", daemon=True).start()

    # --- reading ----------------------------------------------------------------------------

    def view(self, call: dict[str, Any]) -> dict[str, Any]:
        """A call as the API gives it: its state, the team offered it or on its way, the
        ETA, the lines to call, and every event; times in the city's."""
        zone = self.zone()
        lines, coordinators = self.contacts()

        def local(text: str | None) -> str | None:
            if text is None:
                return None
            return dt.datetime.fromisoformat(text).astimezone(zone).isoformat(timespec="seconds")

        events = call["events"]
        offered = [e for e in events if e["state"] == "offered"]
        offer = offered[-1] if offered else None
        accepted = next((e for e in reversed(events) if e["state"] == "accepted"), None)
        on_scene = next((e for e in reversed(events) if e["state"] == "on_scene"), None)
        closed = next((e for e in reversed(events) if e["state"] == "closed"), None)
        timer = call["timers"].get("offer")
        team = call["team"] or (offer["team"] if offer else None)
        out = {
            "id": call["id"],
            "state": call["state"],
            "place": call["place"],
            "corner": self.corner(call["lat"], call["lon"]),
            "lat": call["lat"],
            "lon": call["lon"],
            "asked_by": call["asked_by"],
            "note": call["note"],
            "created_at": local(call["created_at"]),
            "offered_to": offer["team"] if offer else None,
            "teams_offered": list(dict.fromkeys(e["team"] for e in offered)),
            "walk_min": offer["walk_min"] if offer else None,
            "distance_km": offer["distance_km"] if offer else None,
            "offer_due": local(timer["due_at"]) if timer else None,
            "accepted_by": accepted["team"] if accepted else None,
            "accepted_at": local(accepted["at"]) if accepted else None,
            "eta": local(call["eta"]),
            "arrived_at": local(on_scene["at"]) if on_scene else None,
            "outcome": closed["reason"] if closed else None,
            "team": team,
            "team_line": lines.get(team or ""),
            "coordinators_line": coordinators,
            "events": [
                {
                    k: v
                    for k, v in {
                        "state": e["state"],
                        "team": e["team"],
                        "at": local(e["at"]),
                        "by": e["by"],
                        "reason": e["reason"],
                        "walk_min": e["walk_min"],
                        "distance_km": e["distance_km"],
                        "eta": local(e["eta"]),
                    }.items()
                    if v is not None or k in ("team",)
                }
                for e in events
            ],  # fmt: skip
        }
        return out

    def get(self, call_id: str) -> dict[str, Any]:
        return self._get(call_id)

    def replay(self, after: int, limit: int = 500) -> list[tuple[dict, dict]]:
        """The stored events after the event ``after`` (of the last ``TONIGHT_H`` hours), each
        with its call's view: what a stream missed while its signal dropped."""
        since = self.clock() - dt.timedelta(hours=TONIGHT_H)
        out, views = [], {}
        for event in self.store.call_events_after(after, since, limit):
            call_id = event["call_id"]
            if call_id not in views:
                call = self.store.call(call_id)
                if call is None:
                    continue
                views[call_id] = (call, self.view(call))
            call, view = views[call_id]
            out.append((event, {"call": view, "user": call["user"]}))
        return out

    # --- helpers ----------------------------------------------------------------------------

    def _get(self, call_id: str) -> dict[str, Any]:
        call = self.store.call(call_id)
        if call is None:
            raise CallRefused(404, f"no call {call_id[:80]!r}")
        return call

    def _write(
        self,
        call: dict[str, Any],
        events: list[dict[str, Any]],
        timers: dict[str, tuple[str | None, str] | None],
        checkin: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        newest = call["events"][-1]["id"] if call["events"] else None
        stored = self.store.call_write(
            call["id"], events, timers=timers, checkin=checkin, expect=newest
        )
        if stored is None:  # cannot happen under the lock, in one process: say so
            raise CallRefused(409, "the call changed meanwhile; look at it again")
        self._wake.set()
        return stored

    def _offer_next(
        self,
        call_id: str,
        history: list[dict[str, Any]],
        ranked: list[dict[str, Any]] | None,
        when: dt.datetime,
        by: str,
        *,
        call: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, tuple[str | None, str] | None]]:
        """The events and timers that offer call ``call_id`` to the next team (none offered
        it yet, none busy, one without another offer if any is free), or end it unanswered."""
        created = dt.datetime.fromisoformat(call["created_at"]) if call is not None else when
        if when - created >= self._give_up_after:
            return [{"state": "unanswered", "team": None, "at": utc(when), "by": by,
                     "reason": f"no team accepted in {self.give_up_min:g} min"}], \
                {"offer": None, "give_up": None}  # fmt: skip
        if ranked is None:
            assert call is not None
            ranked = self.rank(call["lat"], call["lon"], when)
        asked = {e["team"] for e in history if e["state"] == "offered"}
        busy, holding = set(), set()
        for other in self.store.open_calls(when - dt.timedelta(hours=TONIGHT_H)):
            if other["id"] == call_id:
                continue
            (busy if other["state"] in BUSY else holding).add(other["team"])
        left = [r for r in ranked if r["team"] not in asked and r["team"] not in busy]
        free = [r for r in left if r["team"] not in holding]
        if not left:
            why = "no team on shift is free" if not asked else "every team on shift was offered"
            if not ranked:
                why = "no team is on shift"
            return [{"state": "unanswered", "team": None, "at": utc(when), "by": by,
                     "reason": why}], {"offer": None, "give_up": None}  # fmt: skip
        pick = (free or left)[0]
        event = {"state": "offered", "team": pick["team"], "at": utc(when), "by": by,
                 "walk_min": pick.get("walk_min"),
                 "distance_km": pick.get("distance_km")}  # fmt: skip
        return [event], {"offer": (pick["team"], utc(when + self._answer_after))}

    def _take_back_offers(self, team: str, accepted: str, when: dt.datetime) -> None:
        """A team that accepted a call loses its other offers: each passes on at once."""
        for other in self.store.open_calls(when - dt.timedelta(hours=TONIGHT_H)):
            if other["id"] == accepted or other["state"] != "offered" or other["team"] != team:
                continue
            call = self.store.call(other["id"])
            if call is None:
                continue
            passed = {"state": "passed", "team": team, "at": utc(when), "by": "service",
                      "reason": "the team accepted another call"}  # fmt: skip
            events, timers = self._offer_next(call["id"], call["events"] + [passed], None,
                                              when, "service", call=call)  # fmt: skip
            self._published(call["id"], self._write(call, [passed, *events], timers))

    def _moved_on(self, call: dict[str, Any], team: str | None) -> str:
        """Why a team's answer comes too late (409)."""
        mine = next(
            (e for e in reversed(call["events"]) if e["team"] == team and e["state"] != "offered"),
            None,
        )
        zone = self.zone()
        if mine is not None and mine["state"] == "passed":
            at = dt.datetime.fromisoformat(mine["at"]).astimezone(zone)
            now_with = f" ({call['team']})" if call["team"] else ""
            return (f"this offer passed on at {at:%H:%M:%S} ({mine['reason']}); the call is "
                    f"{_said(call['state'])}{now_with}")  # fmt: skip
        if call["state"] in BUSY and call["team"] == team:
            return f"your team already accepted this call; it is {_said(call['state'])}"
        return f"the call is {_said(call['state'])}; the offer to your team is no longer open"

    def _published(self, call_id: str, stored: list[dict[str, Any]]) -> dict[str, Any]:
        """Publish the stored events of a call; its view now."""
        call = self._get(call_id)
        view = self.view(call)
        for event in stored:
            self.publish(event, {"call": view, "user": call["user"]})
        return view


def _said(state: str) -> str:
    return {"on_scene": "at the scene", "offered": "offered"}.get(state, state)


def _responding(call_id: str, user: User, when: dt.datetime) -> dict[str, Any]:
    """The ``responding`` check-in that "Going" records for the team: ``where``, the board
    and the report keep reading it as before calls had states."""
    return {
        "client_id": f"call {call_id} going",
        "team": user.team,
        "night": (when - dt.timedelta(hours=12)).date().isoformat(),
        "stop_id": None,
        "status": "responding",
        "tapped_at": when.isoformat(),
        "tapped_utc": utc(when),
        "received_at": utc(when),
        "reason": None,
        "lat": None,
        "lon": None,
        "scene_request_id": call_id,
        "late": 0,
        "user": user.name,
    }
