// Dispatch (templates/where.html): the nearest teams to a place.
const list = document.getElementById("teams"), status = document.getElementById("status");
function item(row) {
  const li = document.createElement("li");
  const head = document.createElement("b");
  head.textContent = row.team;
  li.append(head);
  const text = row.on_shift
    ? ` ${row.walk_min === null ? "no street path" : Math.round(row.walk_min) + " min on foot"}, ${row.status}`
      + (row.source === "check-in" ? ` (checked in ${Math.round(row.check_in_age_min)} min ago)` : " (by the plan)")
    : ` off shift` + (row.next_shift_start ? `, next shift ${row.next_shift_start.slice(0, 16).replace("T", " ")}` : "");
  li.append(document.createTextNode(text + " "));
  const call = document.createElement("a");
  call.textContent = row.contact;
  const digits = row.contact.replace(/[^0-9+]/g, "");
  if (digits.length >= 7) call.href = "tel:" + digits;
  li.append(call);
  return li;
}
document.getElementById("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  status.textContent = "Asking…";
  const near = document.getElementById("near").value;
  const answer = await fetch("/api/where?" + new URLSearchParams({near}), {credentials: "same-origin"});
  const data = await answer.json();
  list.replaceChildren();
  if (!answer.ok) { status.className = "error"; status.textContent = data.error; return; }
  status.className = "muted";
  status.textContent = data.some(r => r.on_shift) ? "" : "No team is on shift now.";
  for (const row of data) list.append(item(row));
});
