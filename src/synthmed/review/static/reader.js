// synthmed reader study: one image at a time; every answer is saved before the next image.
"use strict";
(() => {
  const { token, csrf, task } = document.body.dataset;
  const $ = (id) => document.getElementById(id);
  const img = $("image");
  const view = { zoom: 1, level: 1, window: 1 };
  let current = null, call = null, confidence = null, busy = false;

  function showView() {
    for (const k of Object.keys(view)) $(k).value = view[k];
    img.style.transform = `scale(${view.zoom})`;
    img.style.filter = `brightness(${view.level}) contrast(${view.window})`;
  }
  function press(attr, value) {
    for (const b of document.querySelectorAll(`[data-${attr}]`)) {
      b.setAttribute("aria-pressed", String(b.dataset[attr] === String(value)));
    }
  }
  function say(text) { $("message").textContent = text; }
  function show(state) {
    $("progress").textContent = `${state.answered} of ${state.total} answered`;
    busy = false;
    if (!state.item) {
      $("answer").hidden = $("viewport").hidden = $("display").hidden = true;
      $("done").hidden = false;
      return;
    }
    current = state.item; call = confidence = null;
    press("call", null); press("confidence", null);
    if ($("grade")) $("grade").value = "";
    $("comment").value = ""; say("");
    img.src = `/api/r/${encodeURIComponent(token)}/image/${encodeURIComponent(current)}`;
  }
  async function refresh() {
    const r = await fetch(`/api/r/${encodeURIComponent(token)}/next`);
    show(await r.json());
  }
  async function submit() {
    if (busy || !current) return;
    const grade = $("grade") && $("grade").value !== "" ? Number($("grade").value) : null;
    if (task !== "grade" && (!call || !confidence)) {
      return say("Choose real or synthetic (R / S) and a confidence (1-5).");
    }
    if (task === "grade" && grade === null) return say("Choose a grade.");
    busy = true;
    const r = await fetch(`/api/r/${encodeURIComponent(token)}/answer`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ item: current, call, confidence, grade, comment: $("comment").value }),
    });
    if (r.ok) return show(await r.json());
    if (r.status === 409) return refresh();
    busy = false;
    const detail = (await r.json().catch(() => ({}))).detail;
    say(typeof detail === "string" ? detail : "The answer was not saved; try again.");
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.dataset.call) { call = b.dataset.call; press("call", call); }
    if (b.dataset.confidence) { confidence = Number(b.dataset.confidence); press("confidence", confidence); }
    if (b.id === "reset") { Object.assign(view, { zoom: 1, level: 1, window: 1 }); showView(); }
  });
  for (const k of Object.keys(view)) {
    $(k).addEventListener("input", () => { view[k] = Number($(k).value); showView(); });
  }
  $("answer").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  document.addEventListener("keydown", (e) => {
    const typing = ["TEXTAREA", "SELECT", "INPUT"].includes(e.target.tagName);
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (task !== "grade" && (key === "r" || key === "s")) {
      call = key === "r" ? "real" : "synthetic"; press("call", call);
    } else if (task !== "grade" && "12345".includes(key) && key.length === 1) {
      confidence = Number(key); press("confidence", confidence);
    } else if (key === "enter") {
      e.preventDefault(); submit();
    } else if (key === "+" || key === "-") {
      view.zoom = Math.min(4, Math.max(1, view.zoom + (key === "+" ? 0.25 : -0.25))); showView();
    } else if (key === "0") {
      Object.assign(view, { zoom: 1, level: 1, window: 1 }); showView();
    }
  });
  refresh();
})();
