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
    live.draw(data);
  } catch (error) { /* offline for a moment: the next tick tries again */ }
}
// The live map above the tables: tonight's routes, each team on shift where it last checked in
// (or where the plan puts it), and the open calls, each with the walk of the team asked to come.
// Zoomed out, the names would cover each other: they show from street level, and the list under
// the map names every team and call (a tap on one zooms the map to it).
const live = (() => {
  const node = document.getElementById("live-map"), key = document.getElementById("live-key");
  const map = LiveMap.make(node);
  if (!map) return {draw() {}};
  const NAMES_FROM_ZOOM = 15;
  const quiet = () => node.classList.toggle("lm-quiet", map.getZoom() < NAMES_FROM_ZOOM);
  map.on("zoomend", quiet);
  const routes = L.layerGroup().addTo(map), walks = L.layerGroup().addTo(map);
  const teams = L.layerGroup().addTo(map), scenes = L.layerGroup().addTo(map);
  let night = null, framed = false, listed = "";
  const paths = new Map();  // call id -> {key, at, layer}: a walk is asked again when its call changes, or after 20 s
  async function drawRoutes(wanted) {
    night = wanted;
    const answer = await fetch("/api/board/routes?" + new URLSearchParams({night: wanted}), {credentials: "same-origin"});
    if (!answer.ok) return;
    const data = await answer.json();
    routes.clearLayers();
    for (const r of data.routes) routes.addLayer(LiveMap.route(r.path, r.colour));
    if (!framed && data.routes.length) { framed = true; LiveMap.fit(map, routes.getLayers(), [0, 0], false); quiet(); }
  }
  async function walkOf(call, colour) {
    const want = `${call.state} ${call.team}`, held = paths.get(call.id);
    if (held && held.key === want && Date.now() - held.at < 20000) return held.layer;
    const entry = {key: want, at: Date.now(), layer: held ? held.layer : null};
    paths.set(call.id, entry);
    const answer = await fetch(`/api/scene-requests/${encodeURIComponent(call.id)}/path`, {credentials: "same-origin"});
    if (!answer.ok) return entry.layer;
    const data = await answer.json();
    entry.layer = data.path ? LiveMap.walk(data.path, colour) : null;
    entry.from = data.from;
    return entry.layer;
  }
  // The list under the map: rebuilt only when what it says changes, so a tap is never lost.
  function list(rows) {
    const text = JSON.stringify(rows.map((r) => [r.colour, r.words]));
    if (text === listed) return;
    listed = text;
    key.replaceChildren(...rows.map((r) => {
      const button = el("button", null, "lm-row");
      button.type = "button";
      const dot = el("span", null, r.scene ? "lm-scene-dot" : "lm-dot");
      if (!r.scene) dot.style.background = r.colour;
      button.append(dot, document.createTextNode(" " + r.words));
      button.addEventListener("click", () => {
        map.setView([r.lat, r.lon], 16);
        node.scrollIntoView({behavior: "smooth", block: "start"});
      });
      return button;
    }));
  }
  async function draw(data) {
    if (data.night !== night) drawRoutes(data.night);
    const colours = Object.fromEntries(data.teams.map((t) => [t.team, t.colour])), rows = [];
    const open = data.calls.filter((c) => ["offered", "accepted", "on_scene"].includes(c.state));
    const layers = [], going = {};  // team on its way -> where its walk began
    for (const c of open) {
      const who = c.state === "offered" ? `offered to ${c.team}` : c.state === "accepted"
        ? `${c.team} on the way, expected ${c.eta.slice(11, 16)}` : `${c.team} at the scene`;
      const words = `Scene ${c.corner ? "near " + c.corner : c.place}: ${who}`;
      layers.push(LiveMap.scene(c.lat, c.lon, words));
      rows.unshift({scene: true, words, lat: c.lat, lon: c.lon});
      if (c.state !== "on_scene") {
        const walk = await walkOf(c, colours[c.team]);
        if (walk) layers.push(walk);
        const from = (paths.get(c.id) || {}).from;
        if (c.state === "accepted" && from) going[c.team] = {...from, since: c.accepted_at};
      }
    }
    teams.clearLayers();
    for (const t of data.teams) {
      // a team on its way is drawn where its walk began, not at the scene its check-in names
      const place = going[t.team] || t.place;
      if (!place) continue;
      const words = `${t.team}: ` + (going[t.team]
        ? `on the way to the scene since ${place.since.slice(11, 16)}` : LiveMap.known(place));
      teams.addLayer(LiveMap.team(place.lat, place.lon, t.colour, words));
      rows.push({colour: t.colour, words, lat: place.lat, lon: place.lon});
    }
    for (const id of paths.keys()) if (!open.some((c) => c.id === id)) paths.delete(id);
    scenes.clearLayers();
    walks.clearLayers();
    for (const layer of layers) (layer instanceof L.FeatureGroup ? walks : scenes).addLayer(layer);
    if (!rows.length) rows.push({words: "No team is on shift now.", colour: "#999", lat: 0, lon: 0});
    list(rows);
  }
  return {draw};
})();
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
