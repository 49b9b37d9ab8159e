// The login page (templates/login.html): posts the link's one-time code.
// The one-time code is in the #fragment, which browsers never send to servers or in referrers.
(async () => {
  const status = document.getElementById("status");
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  history.replaceState(null, "", location.pathname);  // the code leaves the address bar
  if (!code) { status.textContent = "Open the login link the coordinators sent you."; return; }
  const answer = await fetch("/api/login", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({code}), credentials: "same-origin",
  });
  const data = await answer.json();
  if (answer.ok) { location.replace(data.next); }
  else { status.className = "error"; status.textContent = data.error; }
})();
