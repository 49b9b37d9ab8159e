// Dispatch asks a team to come (templates/where.html; the server: service/calls.py), then
// watches the call live over Server-Sent Events (/api/events): offered to which team (distance,
// minutes, its line to call), accepted with the expected time, at the scene, done; or
// unanswered with the coordinators' line. The call is read again whenever the stream
// reconnects, so nothing is missed while the signal was down.
(() => {
  const form = document.getElementById("call");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const box = $("call-box"), now = $("call-now"), log = $("call-log"), line = $("call-line");
  let current = null;
  const clock = (iso) => (iso ? iso.slice(11, 16) : "");
  const teamWords = (c) => `${c.offered_to} (${c.distance_km == null ? "?" : c.distance_km.toFixed(1)} km, `
    + `${c.walk_min == null ? "no street path" : Math.round(c.walk_min) + " min on foot"})`;
  function headline(c) {
    switch (c.state) {
      case "offered": return `Offered to ${teamWords(c)}… waiting for an answer until ${clock(c.offer_due)}`;
      case "accepted": return `Accepted ${clock(c.accepted_at)} by ${c.accepted_by}, expected ${clock(c.eta)}`;
      case "on_scene": return `At the scene ${clock(c.arrived_at)}: ${c.accepted_by}`;
      case "closed": return `Done: ${c.outcome} (${c.accepted_by})`;
      case "cancelled": return "Cancelled.";
      case "unanswered": return `No team accepted. Call the coordinators: ${c.coordinators_line || "(no line set)"}`;
      default: return c.state;
    }
  }
  function eventWords(e) {
    const at = clock(e.at) + " ";
    switch (e.state) {
      case "offered": return at + `offered to ${e.team}` + (e.walk_min == null ? "" : ` (${Math.round(e.walk_min)} min on foot)`);
      case "passed": return at + `${e.team}: passed on (${e.reason})`;
      case "cannot": return at + `${e.team} cannot: ${e.reason}`;
      case "accepted": return at + `${e.team} going, expected ${clock(e.eta)}`;
      case "on_scene": return at + `${e.team} at the scene`;
      case "closed": return at + `done: ${e.reason}`;
      case "cancelled": return at + `cancelled by ${e.by}`;
      case "unanswered": return at + `unanswered: ${e.reason}`;
      default: return at + e.state;
    }
  }
  function phone(text) {
    const link = document.createElement("a");
    link.textContent = text;
    const digits = text.replace(/[^0-9+]/g, "");
    if (digits.length >= 7) link.href = "tel:" + digits;
    return link;
  }
  // The small map: the scene, and the team asked (where the service believes it is) with its
  // walk there; asked again when the call changes hands or state.
  let map = null, drawn = null;
  async function drawMap(c) {
    const key = `${c.id} ${c.state} ${c.team}`;
    if (key === drawn) return;
    drawn = key;
    const node = $("call-map");
    if (!map) { map = LiveMap.make(node); if (map) map.layers = L.layerGroup().addTo(map); }
    if (!map) return;
    const layers = [];
    let words = c.state === "on_scene" ? `${c.team} at the scene` : "Scene";
    if (["offered", "accepted"].includes(c.state)) {
      try {
        const answer = await fetch(`/api/scene-requests/${encodeURIComponent(c.id)}/path`, {credentials: "same-origin"});
        const walk = answer.ok ? await answer.json() : null;
        if (drawn !== key) return;  // the call changed while this was asked
        if (walk && walk.from) {
          layers.push(LiveMap.team(walk.from.lat, walk.from.lon, "#1f77b4", `${c.team}: ${LiveMap.known(walk.from)}`));
          if (walk.path) layers.push(LiveMap.walk(walk.path, "#1f77b4"));
        }
      } catch (e) { drawn = null; /* no signal: the next change draws it */ }
    }
    layers.push(LiveMap.scene(c.lat, c.lon, words));
    map.layers.clearLayers();
    for (const layer of layers) map.layers.addLayer(layer);
    map.invalidateSize();
    if (layers.length > 1) LiveMap.fit(map, layers);
    else map.setView([c.lat, c.lon], 16);
  }
  function show(c) {
    if (!current || c.id !== current) return;
    box.hidden = false;
    now.dataset.state = c.state;
    now.textContent = headline(c);
    if (c.corner) now.title = `near ${c.corner}`;
    line.replaceChildren();
    if (c.team && c.team_line) line.append(`${c.team}: `, phone(c.team_line));
    if (c.state === "unanswered" && c.coordinators_line) line.append("Coordinators: ", phone(c.coordinators_line));
    log.replaceChildren(...c.events.map((e) => { const li = document.createElement("li"); li.textContent = eventWords(e); return li; }));
    $("call-cancel").hidden = !["offered", "accepted", "on_scene"].includes(c.state);
    drawMap(c);
  }
  async function reload() {
    if (!current) return;
    try {
      const answer = await fetch(`/api/scene-requests/${encodeURIComponent(current)}`, {credentials: "same-origin"});
      if (answer.ok) show(await answer.json());
    } catch (e) { /* no signal: the stream reconnects and reads it again */ }
  }
  async function post(url, body) {
    const answer = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                     body: JSON.stringify(body), credentials: "same-origin"});
    return [answer, await answer.json().catch(() => ({}))];
  }
  $("near").addEventListener("change", () => { if (!$("call-near").value) $("call-near").value = $("near").value; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    box.hidden = false;
    now.dataset.state = "";
    now.textContent = "Asking…";
    log.replaceChildren();
    line.replaceChildren();
    const body = {near: $("call-near").value || $("near").value, asked_by: $("call-asked-by").value};
    if ($("call-note").value.trim()) body.note = $("call-note").value.trim();
    try {
      const [answer, data] = await post("/api/scene-requests", body);
      if (!answer.ok) { now.dataset.state = "refused"; now.textContent = `Not sent: ${data.error || answer.status}`; return; }
      current = data.id;
      show(data);
    } catch (e) {
      now.textContent = "No signal: not sent. Phone the team or the coordinators.";
    }
  });
  $("call-cancel").addEventListener("click", async () => {
    if (!current) return;
    now.textContent = "Cancelling…";
    const [answer, data] = await post(`/api/scene-requests/${encodeURIComponent(current)}/cancel`, {});
    if (answer.ok) show(data); else now.textContent = `Not cancelled: ${data.error || answer.status}`;
  });
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "yes"; reload(); });
  events.addEventListener("error", () => { document.body.dataset.live = "no"; });
  events.addEventListener("message", (message) => show(JSON.parse(message.data).call));
})();
