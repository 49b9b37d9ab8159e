// The coordinators' board (templates/board.html): every team's night, refreshed each second.
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}
function teamBlock(team) {
  const box = el("section");
  box.dataset.team = team.team;
  const title = el("h2", team.team);
  box.append(title);
  if (!team.on_tonight) { box.append(el("p", "No shift tonight.", "muted")); return box; }
  const state = team.ended ? "shift ended" : team.started ? "on shift" : "not started";
  const where = team.last_position
    ? `last place ${team.last_position.lat.toFixed(5)}, ${team.last_position.lon.toFixed(5)} (${team.last_position.status}, ${Math.round(team.last_position.age_min)} min ago)`
    : "no check-in with a place yet";
  box.append(el("p", `${team.shift_start.slice(11, 16)}–${team.shift_end.slice(11, 16)}: ${state}; ${where}; ${team.contact}`
                + (team.responding ? `; responding to ${team.responding}` : "")));
  const table = el("table");
  const head = el("tr");
  for (const h of ["#", "Stop", "Planned", "State"]) head.append(el("th", h));
  table.append(head);
  for (const stop of team.stops) {
    const row = el("tr");
    row.dataset.stopId = stop.stop_id;
    row.append(el("td", stop.number), el("td", stop.corner || stop.label), el("td", stop.arrive.slice(11, 16)));
    const cls = {"done": "state-done", "skipped": "state-skipped", "late": "state-late", "at stop": "state-at"}[stop.state] || "";
    row.append(el("td", stop.state + (stop.reason ? `: ${stop.reason}` : "") + (stop.late_sent ? " (sent late)" : ""), cls));
    table.append(row);
  }
  box.append(table);
  return box;
}
async function refresh() {
  try {
    const answer = await fetch("/api/board", {credentials: "same-origin"});
    if (!answer.ok) return;
    const data = await answer.json();
    document.getElementById("night").textContent = `night of ${data.night}`;
    document.getElementById("scenes").replaceChildren(...callsBlock(data.calls, data.now));
    document.getElementById("teams").replaceChildren(...data.teams.map(teamBlock));
  } catch (error) { /* offline for a moment: the next tick tries again */ }
}
// Tonight's calls (service/calls.py): state, team, and the timer that matters now; an offer
// past its time is marked, as is a team past its expected arrival.
function callsBlock(calls, now) {
  if (!calls.length) return [];
  const table = el("table");
  table.id = "calls";
  const head = el("tr");
  for (const title of ["Asked", "Place", "State", "Team", "Timer", "Teams offered"]) head.append(el("th", title));
  table.append(head);
  const at = Date.parse(now), hhmm = (iso) => (iso ? iso.slice(11, 16) : "");
  const left = (iso) => Math.round((Date.parse(iso) - at) / 1000);
  const span = (s) => `${Math.floor(Math.abs(s) / 60)}:${String(Math.abs(s) % 60).padStart(2, "0")}`;
  for (const c of calls) {
    let timer = "", late = false;
    if (c.state === "offered" && c.offer_due) {
      const s = left(c.offer_due);
      late = s < 0;
      timer = late ? `no answer, ${span(s)} past its time` : `answer due in ${span(s)}`;
    } else if (c.state === "accepted") {
      const s = left(c.eta);
      late = s < 0;
      timer = late ? `expected ${hhmm(c.eta)}, ${span(s)} late` : `expected ${hhmm(c.eta)}`;
    } else if (c.state === "on_scene") timer = `at the scene since ${hhmm(c.arrived_at)}`;
    else if (c.state === "closed") timer = c.outcome;
    else if (c.state === "unanswered") timer = `coordinators: ${c.coordinators_line || "-"}`;
    const row = el("tr");
    row.dataset.call = c.id;
    row.dataset.state = c.state;
    const state = el("td", c.state.replace("_", " "));
    state.className = late ? "state-late" : c.state === "closed" ? "state-done" : "";
    row.append(el("td", hhmm(c.created_at)), el("td", `${c.place} (${c.asked_by})`), state,
      el("td", c.accepted_by || c.offered_to || "none"), el("td", timer), el("td", String(c.teams_offered.length)));
    table.append(row);
  }
  return [el("h2", "Calls (24 h)"), table];
}
refresh();
setInterval(refresh, 1000);
