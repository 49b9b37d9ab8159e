// The service's live maps (the board, /where, a team's call card), drawn with Leaflet from the
// service's own copy (/vendor/). Labels are DOM text, never HTML: a place or a team name typed by
// someone is shown as typed.
window.LiveMap = (() => {
  const ready = () => typeof L !== "undefined";

  // A map in `node`, its tiles from node.dataset.tiles; null (and a line saying so) when the map
  // library is missing.
  function make(node) {
    if (!ready()) {
      node.textContent = "The map could not load here; the lists below have everything.";
      node.classList.add("lm-none");
      return null;
    }
    const map = L.map(node, {zoomSnap: 0.25, attributionControl: true});
    if (node.dataset.tiles) {
      L.tileLayer(node.dataset.tiles, {maxZoom: 19, attribution: "© OpenStreetMap contributors"}).addTo(map);
    }
    return map;
  }
  function text(words, cls) {
    const span = document.createElement("span");
    span.textContent = words;
    if (cls) span.className = cls;
    return span;
  }
  // A team: a dot in its colour with its name and how its place is known beside it.
  function team(lat, lon, colour, words) {
    return L.circleMarker([lat, lon], {radius: 10, color: "#fff", weight: 3, fillColor: colour || "#333", fillOpacity: 1})
      .bindTooltip(text(words), {permanent: true, direction: "top", offset: [0, -10], className: "lm-label"});
  }
  // A scene dispatch asked a team to come to.
  function scene(lat, lon, words) {
    return L.circleMarker([lat, lon], {radius: 13, color: "#000", weight: 4, fillColor: "#ffd400", fillOpacity: 1})
      .bindTooltip(text(words), {permanent: true, direction: "top", offset: [0, -14], className: "lm-label lm-scene"});
  }
  // A team's walk to a scene: dashed, over a white casing so it reads on any tiles.
  function walk(points, colour) {
    return L.featureGroup([
      L.polyline(points, {color: "#fff", weight: 9, opacity: 0.9, interactive: false}),
      L.polyline(points, {color: colour || "#111", weight: 5, dashArray: "10 8", interactive: false, className: "lm-walk"}),
    ]);
  }
  // A night's route of a team.
  function route(points, colour) {
    return L.polyline(points, {color: colour, weight: 3, opacity: 0.55, interactive: false});
  }
  // Fit `layers` in view, with room for their labels unless `labelled` is false; `pad` is
  // [top, bottom] pixels kept clear besides (a card, a panel over the map).
  function fit(map, layers, pad, labelled = true) {
    const bounds = L.featureGroup(layers).getBounds();
    if (!bounds.isValid()) return;
    const [top, bottom] = pad || [0, 0];
    const side = labelled ? Math.min(120, map.getSize().x / 3) : 10;
    const room = labelled ? 40 : 10;
    map.fitBounds(bounds, {paddingTopLeft: [side, top + room], paddingBottomRight: [side, bottom + room], maxZoom: 17});
  }
  const minutes = (m) => (m == null ? "" : `${Math.round(m)} min`);
  // "checked in 4 min ago" or "by the plan": how a team's place is known.
  function known(place) {
    if (!place) return "";
    if (place.source === "plan") return "by the plan";
    const age = place.age_min < 1 ? "just now" : `${minutes(place.age_min)} ago`;
    return `${place.status} (${age})`;
  }
  return {ready, make, team, scene, walk, route, fit, known, minutes};
})();
