// provider-router dashboard: the live overview (server-sent events from the database). Part of provider-router,
// MIT licence. No library, no network beyond this server.
"use strict";
(function () {
  const live = () => document.getElementById("live");
  if (!live() || !window.EventSource) return;
  const source = new EventSource("/events");
  const banner = () => document.getElementById("banner");
  source.addEventListener("overview", (event) => {
    const data = JSON.parse(event.data);
    if (live().dataset.empty) { window.location.reload(); return; }
    live().outerHTML = data.html;
    const b = banner();
    if (b && b.dataset.live) b.remove();
  });
  source.addEventListener("trouble", (event) => {
    const data = JSON.parse(event.data);
    let b = banner();
    if (!b) {
      b = document.createElement("div");
      b.id = "banner"; b.className = "banner"; b.setAttribute("role", "alert"); b.dataset.live = "1";
      document.querySelector("main h1").after(b);
    }
    b.textContent = data.banner;
  });
})();
