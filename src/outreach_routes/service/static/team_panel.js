// The check-in panel of a team's map (templates/team_panel.html).
//
// Every tap goes into a queue kept in the browser's storage, and stays there until the server
// has answered it: a 2xx takes it off; no signal, a 5xx (the proxy during a restart), 401 (the
// session ended: log in again), 408 and 429 keep it and try again later, after the server's
// Retry-After or a backoff that doubles up to a minute; any other 4xx moves it to the
// "refused" list shown on the panel, with the server's reason.
(() => {
  const panel = document.getElementById("ci-stop");
  if (!panel) return;
  const DATA = JSON.parse(document.getElementById("ci-data").textContent);
  const TEAM = DATA.team, NIGHTS = DATA.nights, night = DATA.night;
  const KEY = "outreach-routes checkin queue " + TEAM;  // the queue survives a reload
  const REFUSED = KEY + " refused";
  const KEEP = new Set([401, 408, 429]);  // and every 5xx
  const status = document.getElementById("ci-status");
  for (const stop of NIGHTS[night] || []) {
    const option = document.createElement("option");
    option.value = stop.stop_id;
    option.textContent = `${stop.number}. ${stop.corner || stop.label} (${stop.arrive})`;
    panel.append(option);
  }
  const reason = document.getElementById("ci-reason"), reasonText = document.getElementById("ci-reason-text");
  reason.addEventListener("change", () => { reasonText.hidden = reason.value !== "other"; });
  const share = document.getElementById("ci-share");
  share.checked = localStorage.getItem(KEY + " share") === "yes";
  share.addEventListener("change", () => localStorage.setItem(KEY + " share", share.checked ? "yes" : "no"));

  const read = (key) => JSON.parse(localStorage.getItem(key) || "[]");
  const queue = () => read(KEY);
  const save = (items) => {
    localStorage.setItem(KEY, JSON.stringify(items));
    document.getElementById("ci-queue").textContent = items.length ? `${items.length} waiting for signal` : "";
  };
  const showRefused = () => {
    const box = document.getElementById("ci-refused");
    box.replaceChildren();
    for (const item of read(REFUSED)) {
      const line = document.createElement("div");
      line.textContent = `Refused: ${item.status}${item.stop_id ? " " + item.stop_id : ""} `
        + `(${item.tapped_at.slice(11, 16)}): ${item.refused}`;
      box.append(line);
    }
  };
  const refuse = (item, why) => {
    localStorage.setItem(REFUSED, JSON.stringify([...read(REFUSED), {...item, refused: why}]));
    showRefused();
  };
  const drop = (item) => save(queue().filter((q) => q.client_id !== item.client_id));

  let sending = false, timer = null, backoff = 0;
  function later(answer) {
    // Wait before the next try: the server's Retry-After (seconds), else 2 s doubling to 60 s.
    const told = Number(answer && answer.headers.get("Retry-After"));
    backoff = Number.isFinite(told) && told > 0 ? told * 1000 : Math.min(backoff ? backoff * 2 : 2000, 60000);
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; flush(); }, backoff);
  }
  async function flush() {
    if (sending || timer !== null) return;
    sending = true;
    try {
      for (const item of queue()) {
        let answer;
        try {
          answer = await fetch("/api/checkins", {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify(item), credentials: "same-origin",
          });
        } catch (error) {  // no signal: keep it, try again later
          status.textContent = "No signal: saved, will send when back online.";
          later(null);
          break;
        }
        const data = await answer.json().catch(() => ({}));
        if (answer.ok) {
          drop(item);
          backoff = 0;
          status.textContent = `Sent: ${item.status}${item.stop_id ? " " + item.stop_id : ""}`;
        } else if (answer.status >= 500 || KEEP.has(answer.status)) {
          status.textContent = answer.status === 401
            ? "Your login has ended: open a new login link from the coordinators, then this page again. Your check-ins are kept."
            : `The server could not take it now (${answer.status}): kept, will try again.`;
          later(answer);
          break;
        } else {
          drop(item);
          refuse(item, data.error || `refused (${answer.status})`);
        }
      }
    } finally { sending = false; }
  }
  function localIso(date) {
    const offset = -date.getTimezoneOffset(), sign = offset >= 0 ? "+" : "-", abs = Math.abs(offset);
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
  async function position() {
    if (!share.checked || !navigator.geolocation) return {};
    return new Promise((done) => navigator.geolocation.getCurrentPosition(
      (p) => done({lat: p.coords.latitude, lon: p.coords.longitude}), () => done({}), {timeout: 5000}));
  }
  async function tap(kind) {
    const item = {client_id: crypto.randomUUID(), team: TEAM, night, status: kind, tapped_at: localIso(new Date())};
    if (["arrived", "left", "skipped"].includes(kind)) item.stop_id = panel.value;
    if (kind === "skipped") {
      item.reason = reason.value === "other" ? reasonText.value : reason.value;
      if (!item.reason) { status.textContent = "Choose a reason for skipping first."; return; }
    }
    Object.assign(item, await position());
    save([...queue(), item]);
    status.textContent = navigator.onLine ? "Sending…" : "No signal: saved, will send when back online.";
    flush();
  }
  for (const button of document.querySelectorAll("#checkin-panel button[data-status]"))
    button.addEventListener("click", () => tap(button.dataset.status));
  window.addEventListener("online", () => { clearTimeout(timer); timer = null; backoff = 0; flush(); });
  setInterval(flush, 5000);
  save(queue());
  showRefused();
  flush();
  fetch("/api/scene-requests", {credentials: "same-origin"}).then((a) => a.ok ? a.json() : []).then((rows) => {
    const box = document.getElementById("ci-scenes");
    for (const s of rows) {
      const line = document.createElement("div");
      line.textContent = `Scene request ${s.created_at.slice(11, 16)}: ${s.place}. ${s.note}`;
      box.append(line);
    }
  }).catch(() => {});
})();
