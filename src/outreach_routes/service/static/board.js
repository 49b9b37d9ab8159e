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
    const scenes = document.getElementById("scenes");
    scenes.replaceChildren();
    if (data.scene_requests.length) {
      scenes.append(el("h2", "Scene requests (24 h)"));
      const list = el("ul");
      for (const s of data.scene_requests)
        list.append(el("li", `${s.created_at.slice(11, 16)} ${s.place}: asked by ${s.asked_by}; nearest ${s.nearest_team || "none"}. ${s.note}`));
      scenes.append(list);
    }
    document.getElementById("teams").replaceChildren(...data.teams.map(teamBlock));
  } catch (error) { /* offline for a moment: the next tick tries again */ }
}
refresh();
setInterval(refresh, 1000);
