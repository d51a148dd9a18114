/**
 * The session page's skeleton: built at once from the main bundle, so the page shows the
 * session's card and tabs while Firestore and uPlot (views/session.ts) are still loading.
 */
import { h, clear } from "../dom";
import { ownerKey } from "../owner";
import { displaySid } from "../sid";

export type SessionShell = ReturnType<typeof buildSessionShell>;

export function buildSessionShell(root: HTMLElement, sid: string) {
  const statusPill = h("span", { class: "pill", "data-status": "loading", role: "status" }, "Connecting…");
  const nameEl = h("span", { class: "run-name" });
  const errorBox = h("p", { class: "error-box", hidden: true });
  const bar = h("div", { class: "bar-fill" });
  const barWrap = h("div", { class: "bar", role: "progressbar", "aria-label": "Progress", "aria-valuemin": 0, "aria-valuemax": 100 }, bar);
  const fields = {
    epoch: h("dd", { "data-field": "epoch" }, "—"),
    step: h("dd", { "data-field": "step" }, "—"),
    elapsed: h("dd", { "data-field": "elapsed" }, "—"),
    eta: h("dd", { "data-field": "eta" }, "—"),
    age: h("dd", { "data-field": "age" }, "—"),
  };
  const facts = h(
    "dl",
    { class: "facts" },
    h("div", {}, h("dt", {}, "Epoch"), fields.epoch),
    h("div", {}, h("dt", {}, "Step"), fields.step),
    h("div", {}, h("dt", {}, "Elapsed"), fields.elapsed),
    h("div", {}, h("dt", {}, "ETA"), fields.eta),
    h("div", {}, h("dt", {}, "Last update"), fields.age),
  );
  const notices = h("div", { class: "notices", "aria-live": "polite" });
  const latestBody = h("tbody");
  const latest = h(
    "details",
    { class: "latest" },
    h("summary", {}, "Latest values"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, "Value"))), latestBody),
  );
  const epochBtn = h("button", { type: "button", role: "tab", "data-view": "epochs" }, "Epochs");
  const batchBtn = h("button", { type: "button", role: "tab", "data-view": "batches" }, "Batches");
  const kindTabs = h("div", { class: "kind-tabs", hidden: true });
  const chartsBox = h("section", { class: "charts", "aria-label": "Charts" });
  const emptyCharts = h("p", { class: "muted empty-charts" }, "Connecting… the charts appear here as soon as the first values arrive.");
  const evals = h("section", { class: "evals", hidden: true });
  // OWNER CONTROLS: the Stop button (views/controls.ts) mounts here, only when ownerKey(sid)
  // is set (the owner link). Nothing here ever puts the key into a share link.
  const ownerSlot = h("div", { class: "owner-slot", "data-owner-controls": true, hidden: true });
  // "Notify me" (owner and viewers alike), shown while the session runs.
  const notifySlot = h("div", { class: "notify-slot", "data-notify": true, hidden: true });
  const shareBtn = h("button", { type: "button", class: "share", "data-action": "share" }, "Share");

  const body = h(
    "div",
    { class: "session-body" },
    h(
      "section",
      { class: "card status-card" },
      h("div", { class: "title-row" }, h("h1", {}, h("span", { class: "sid" }, displaySid(sid)), " ", nameEl), statusPill),
      errorBox,
      barWrap,
      facts,
      notices,
      h("div", { class: "actions" }, ownerSlot, notifySlot),
    ),
    latest,
    h("div", { class: "view-tabs", role: "tablist", "aria-label": "Chart view" }, epochBtn, batchBtn),
    kindTabs,
    emptyCharts, // before the charts: hiding it moves nothing that was already on screen
    chartsBox,
    evals,
  );
  const main = h("main", { class: "session", "data-sid": sid }, body);
  clear(root);
  root.appendChild(main);
  setHeaderAction(shareBtn);
  document.title = `${displaySid(sid)} · TF Watcher`;

  return {
    statusPill, nameEl, errorBox, bar, barWrap, fields, notices, latestBody, epochBtn, batchBtn,
    kindTabs, chartsBox, emptyCharts, evals, shareBtn, body, main, ownerSlot, notifySlot,
    ownerKey: ownerKey(sid),
  };
}

export function setHeaderAction(el: HTMLElement | null): void {
  const slot = document.getElementById("header-action");
  if (!slot) return;
  slot.replaceChildren(...(el ? [el] : []));
}
