// A call ringing on the team's phone (templates/team_panel.html; the server: service/calls.py).
//
// The page keeps one Server-Sent Events stream (/api/events) open: an offer to this team rings
// (a sound through Web Audio, navigator.vibrate, a system notification where permission was
// given) and fills a full-width card with the place, distance and minutes, and two big buttons,
// "Going" and "Can't" (with the reasons); then "At the scene" and "Done" (with the outcome).
// Every tap says what happened. When the stream reconnects, the page reads the calls again, so
// an offer made while the signal was down is not lost.
(() => {
  const card = document.getElementById("call-card");
  if (!card) return;
  const TEAM = JSON.parse(document.getElementById("ci-data").textContent).team;
  const $ = (id) => document.getElementById(id);
  const said = $("call-said");
  const parts = ["call-offer", "call-reasons", "call-onway", "call-there", "call-dismiss"];
  let current = null;  // the call on the card
  let audio = null;
  const rung = new Set();  // calls whose offer rang already (an offer rings once)

  const clock = (iso) => (iso ? iso.slice(11, 16) : "");
  function only(...shown) {
    for (const id of parts) $(id).hidden = !shown.includes(id);
  }
  function fill(call) {
    current = call;
    card.hidden = false;
    document.body.classList.add("on-call");  // the check-in panel steps aside for the card
    card.dataset.state = call.state;
    card.dataset.call = call.id;
    $("call-title").textContent = `Scene: ${call.corner ? "near " + call.corner : call.place}`;
    const far = call.distance_km == null ? "" : `${call.distance_km.toFixed(1)} km, `;
    const mins = call.walk_min == null ? "no street path known" : `${Math.round(call.walk_min)} min on foot`;
    $("call-where").textContent = far + mins;
    $("call-note").textContent = `Asked by ${call.asked_by} at ${clock(call.created_at)}` + (call.note ? `: ${call.note}` : "");
  }
  // The walk to the scene on the team's map (the week's folium map this page is), from where the
  // service believes the team is; asked again when the call changes state.
  // (found when first needed: folium's map script comes after this page's panel)
  const teamMap = () => {
    try { return typeof L === "undefined" ? null : Object.values(window).find((v) => v instanceof L.Map) || null; }
    catch (e) { return null; }
  };
  let walkLayer = null, walked = null;
  function clearWalk() {
    if (walkLayer) walkLayer.remove();
    walkLayer = null;
    walked = null;
    $("call-from").textContent = "";
  }
  async function drawWalk(call) {
    const key = `${call.id} ${call.state}`, map = teamMap();
    if (!map || key === walked) return;
    walked = key;
    let data = null;
    try {
      const answer = await fetch(`/api/scene-requests/${encodeURIComponent(call.id)}/path`, {credentials: "same-origin"});
      data = answer.ok ? await answer.json() : null;
    } catch (e) { walked = null; return; }
    if (walked !== key || !data) return;
    if (walkLayer) walkLayer.remove();
    const layers = [LiveMap.scene(call.lat, call.lon, "Scene")];  // the card above names the place
    if (data.path) layers.unshift(LiveMap.walk(data.path, "#111"));
    if (data.from) {
      const going = call.state === "accepted";
      layers.push(LiveMap.team(data.from.lat, data.from.lon, "#1f77b4", going ? "You set off here" : `You: ${LiveMap.known(data.from)}`));
      $("call-from").textContent = going ? "The dashed line: your walk from where you said Going."
        : data.from.source === "plan" ? "The dashed line: the walk from where the plan puts you now."
        : `The dashed line: the walk from your check-in ${LiveMap.minutes(data.from.age_min)} ago.`;
    } else if (data.why) {
      $("call-from").textContent = `No walk to draw: ${data.why}.`;
    }
    walkLayer = L.featureGroup(layers).addTo(map);
    const panel = document.getElementById("checkin-panel");
    LiveMap.fit(map, layers, [card.offsetHeight, panel ? panel.offsetHeight : 0]);
  }
  // What the card shows for a call, from this team's side.
  function show(call, message) {
    const mine = call.offered_to === TEAM && call.state === "offered";
    const ours = call.accepted_by === TEAM;
    if (mine || (ours && call.state === "accepted")) drawWalk(call);
    if (mine) {
      fill(call);
      only("call-offer");
      said.textContent = message || `Answer by ${clock(call.offer_due)}, or it goes to the next team.`;
    } else if (ours && call.state === "accepted") {
      fill(call);
      only("call-onway");
      said.textContent = message || `Going: dispatch is told. Expected ${clock(call.eta)}.`;
    } else if (ours && call.state === "on_scene") {
      fill(call);
      clearWalk();
      only("call-there");
      said.textContent = message || `At the scene since ${clock(call.arrived_at)}: dispatch is told.`;
    } else if (current && current.id === call.id) {
      fill(call);
      only("call-dismiss");
      clearWalk();
      const words = {
        closed: `Done: ${call.outcome}. Dispatch is told. Thank you.`,
        cancelled: "Dispatch cancelled this call.",
        unanswered: "The call ended with no team going.",
        offered: "This call went to another team.",
      };
      said.textContent = message || words[call.state] || `The call is ${call.state}.`;
    }
  }
  function ring(call) {
    if (rung.has(call.id)) return;
    rung.add(call.id);
    try { navigator.vibrate && navigator.vibrate([400, 200, 400, 200, 400]); } catch (e) { /* no vibration */ }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      for (let k = 0; k < 3; k++) {
        const tone = audio.createOscillator(), gain = audio.createGain();
        tone.frequency.value = 880;
        tone.connect(gain).connect(audio.destination);
        gain.gain.setValueAtTime(0.4, audio.currentTime + k * 0.5);
        tone.start(audio.currentTime + k * 0.5);
        tone.stop(audio.currentTime + k * 0.5 + 0.3);
      }
    } catch (e) { /* no sound before a tap on some phones: the card and vibration still come */ }
    try {
      if (window.Notification && Notification.permission === "granted")
        new Notification("Scene call: " + call.place, {body: `${Math.round(call.walk_min || 0)} min on foot. Open to answer.`, tag: call.id});
    } catch (e) { /* notifications not offered here */ }
  }
  async function send(change, body, doing) {
    if (!current) return;
    said.textContent = doing;
    let answer;
    try {
      answer = await fetch(`/api/scene-requests/${encodeURIComponent(current.id)}/${change}`, {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body), credentials: "same-origin",
      });
    } catch (e) {
      said.textContent = "No signal: not sent. Tap again, or phone dispatch.";
      return;
    }
    const data = await answer.json().catch(() => ({}));
    if (answer.ok) show(data);
    else if (answer.status === 401) said.textContent = "Your login has ended: open a new login link, then this page again.";
    else said.textContent = `Not taken: ${data.error || answer.status}`;
  }
  $("call-going").addEventListener("click", () => send("answer", {answer: "going"}, "Sending: Going…"));
  $("call-cannot").addEventListener("click", () => { only("call-reasons"); said.textContent = "Why not? Tap a reason."; });
  for (const button of card.querySelectorAll("[data-reason]")) {
    button.addEventListener("click", () => {
      const reason = button.dataset.reason, note = $("call-reason-text").value.trim();
      if (reason === "other" && !note) { said.textContent = "Write what it is first, then tap Other."; return; }
      send("answer", reason === "other" ? {answer: "cannot", reason, note} : {answer: "cannot", reason},
        "Sending: Can't…");
    });
  }
  $("call-arrived").addEventListener("click", () => send("arrived", {}, "Sending: At the scene…"));
  for (const button of card.querySelectorAll("[data-outcome]")) {
    button.addEventListener("click", () => {
      const outcome = button.dataset.outcome, note = $("call-outcome-text").value.trim();
      if (outcome === "other" && !note) { said.textContent = "Write what happened first, then tap Other."; return; }
      send("close", outcome === "other" ? {outcome, note} : {outcome}, "Sending: Done…");
    });
  }
  $("call-dismiss").addEventListener("click", () => {
    card.hidden = true;
    current = null;
    clearWalk();
    document.body.classList.remove("on-call");
  });
  $("call-alerts").addEventListener("click", async () => {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); await audio.resume(); } catch (e) { /* none */ }
    let words = "Sound on.";
    if (window.Notification) words += (await Notification.requestPermission()) === "granted" ? " Notifications on." : " Notifications not allowed.";
    $("call-line").textContent = words;
  });

  // The calls as they stand: after the page opens, and whenever the stream reconnects.
  async function reload() {
    try {
      const answer = await fetch("/api/scene-requests", {credentials: "same-origin"});
      if (!answer.ok) return;
      for (const call of await answer.json()) {
        if (call.state === "offered" && call.offered_to === TEAM) { ring(call); show(call); }  // missed while away
        else if (call.accepted_by === TEAM && ["accepted", "on_scene"].includes(call.state)) show(call);
        else if (current && current.id === call.id) show(call);
      }
    } catch (e) { /* no signal: the stream reconnects and calls this again */ }
  }
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "yes"; reload(); });
  events.addEventListener("error", () => { document.body.dataset.live = "no"; });
  events.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.state === "offered" && data.team === TEAM) {
      ring(data.call);
      show(data.call);
    } else if (data.state === "passed" && data.team === TEAM && current && current.id === data.id) {
      show(data.call, `Passed to the next team: ${data.reason}.`);
    } else {
      show(data.call);
    }
  });
})();
