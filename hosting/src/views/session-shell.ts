/**
 * The session page's skeleton: built at once from the main bundle, so the page shows the
 * session's card and tabs while Firestore and uPlot (views/session.ts) are still loading.
 *
 * Phone first: a compact status card (ID, run name in at most two lines, pill, progress bar,
 * the five facts in one dense block) so the first chart starts above the fold at 360×640;
 * "Latest values" and "Config" are collapsed. On a phone held sideways (short and wide) the
 * card and those sections go into a column on the left and the charts on the right, so a
 * chart is on screen without scrolling (style.css). Long names (run, metrics, config) are cut
 * to two lines with the full text in `title` and a tap on them (`.clamp`) shows all of it.
 */
import { h, clear } from "../dom";
import { ownerKey } from "../owner";
import { displaySid } from "../sid";
import { workspacePath } from "../router";
import { workspaceOfRun } from "../workspace-memory";

export type SessionShell = ReturnType<typeof buildSessionShell>;

/** A tap (or Enter) on a clamped name shows all of it; another cuts it again. */
function onClampTap(e: Event): void {
  if (e instanceof KeyboardEvent && e.key !== "Enter" && e.key !== " ") return;
  const t = e.target as Element | null;
  if (t?.closest?.("a, button, input, summary, label")) return;
  const el = t?.closest?.(".clamp, .chart figcaption > span:first-child") as HTMLElement | null;
  if (!el) return;
  // A selection (long-press copy) is not a tap.
  if (e.type === "click" && String(getSelection?.() ?? "").length > 0) return;
  const open = !el.classList.contains("expanded");
  el.classList.toggle("expanded", open);
  // A name cut in the middle: the whole of it, or the cut again.
  const full = el.dataset.full;
  if (full != null) el.textContent = open ? full : (el.dataset.short ?? full);
  if (el.hasAttribute("aria-expanded")) el.setAttribute("aria-expanded", String(open));
  if (!el.title && el.textContent) el.title = el.textContent.length > 2000 ? el.textContent.slice(0, 2000) + "…" : el.textContent;
  if (e instanceof KeyboardEvent) e.preventDefault();
}

export function buildSessionShell(root: HTMLElement, sid: string) {
  const statusPill = h("span", { class: "pill", "data-status": "loading", role: "status" }, "Connecting…");
  const nameEl = h("span", { class: "run-name clamp", role: "button", tabindex: 0, "aria-expanded": "false" });
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
  // The first two change with the run's mode: "Epoch"/"Batch of epoch", or "Evaluate"/"Batch".
  const labels = {
    epoch: h("dt", { "data-label": "epoch" }, "Epoch"),
    step: h("dt", { "data-label": "step" }, "Batch of epoch"),
  };
  // Where the run is (one line), then elapsed and the age of the newest data (one small line).
  const facts = h(
    "dl",
    { class: "facts" },
    h("div", {}, labels.epoch, fields.epoch),
    h("div", {}, labels.step, fields.step),
    h("div", {}, h("dt", {}, "ETA"), fields.eta),
  );
  const minorFacts = h(
    "dl",
    { class: "facts minor" },
    h("div", {}, h("dt", {}, "Elapsed"), fields.elapsed),
    h("div", {}, h("dt", {}, "Updated"), fields.age),
  );
  // How fresh the page is while the writer is on its slow cadence (src/presence.ts, freshnessNote).
  const freshness = h("p", { class: "freshness muted", "data-freshness": true, hidden: true });
  const notices = h("div", { class: "notices", "aria-live": "polite" });
  const latestBody = h("tbody");
  const latest = h(
    "details",
    { class: "latest fold" },
    h("summary", {}, "Latest values"),
    h(
      "table",
      { class: "values" },
      h("colgroup", {}, h("col", {}), h("col", { class: "num" })),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, "Value"))),
      latestBody,
    ),
  );
  // What was run: the `config` hyperparameters and the library versions (views/session.ts).
  const configBody = h("tbody");
  const versionsEl = h("p", { class: "versions muted", "data-versions": true });
  const config = h(
    "details",
    { class: "config fold", "data-config": true, hidden: true },
    h("summary", {}, "Config"),
    h(
      "table",
      { class: "values", "data-config-table": true },
      h("colgroup", {}, h("col", {}), h("col", { class: "text" })),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
      configBody,
    ),
    versionsEl,
  );
  const epochBtn = h("button", { type: "button", role: "tab", "data-view": "epochs" }, "Epochs");
  const batchBtn = h("button", { type: "button", role: "tab", "data-view": "batches" }, "Batches");
  const csvBtn = h("button", { type: "button", class: "secondary csv", "data-action": "download-csv", title: "Download every point as CSV" }, "CSV");
  const kindTabs = h("div", { class: "kind-tabs", hidden: true });
  const chartsBox = h("section", { class: "charts", "aria-label": "Charts" });
  const emptyCharts = h("p", { class: "muted empty-charts" }, "Connecting… the charts appear here as soon as the first values arrive.");
  const evals = h("section", { class: "evals", hidden: true });
  // OWNER CONTROLS: the Stop button (views/controls.ts) mounts here, only when ownerKey(sid)
  // is set (the owner link, or a key remembered on this device). Nothing here ever puts the
  // key into a share link.
  const ownerSlot = h("div", { class: "owner-slot", "data-owner-controls": true, hidden: true });
  // "Notify me" (owner and viewers alike), shown while the session runs.
  const notifySlot = h("div", { class: "notify-slot", "data-notify": true, hidden: true });
  const shareBtn = h("button", { type: "button", class: "share", "data-action": "share" }, "Share");

  const body = h(
    "div",
    { class: "session-body" },
    h(
      "div",
      { class: "session-side" },
      h(
        "section",
        { class: "card status-card" },
        h(
          "div",
          { class: "title-row" },
          h("h1", {}, h("span", { class: "sid" }, displaySid(sid)), " ", nameEl),
          statusPill,
        ),
        errorBox,
        barWrap,
        facts,
        minorFacts,
        freshness,
        notices,
        h("div", { class: "actions" }, ownerSlot, notifySlot),
      ),
      h("div", { class: "folds" }, latest, config),
    ),
    h(
      "div",
      { class: "session-main" },
      h("div", { class: "view-bar" }, h("div", { class: "view-tabs", role: "tablist", "aria-label": "Chart view" }, epochBtn, batchBtn), csvBtn),
      kindTabs,
      emptyCharts, // before the charts: hiding it moves nothing that was already on screen
      chartsBox,
      evals,
    ),
  );
  const main = h("main", { class: "session", "data-sid": sid }, body);
  main.addEventListener("click", onClampTap);
  main.addEventListener("keydown", onClampTap);
  clear(root);
  root.appendChild(main);
  // "← Workspace" only where this device opened the run from its workspace (workspace-memory.ts):
  // the session's own data and address never name its workspace.
  const wid = workspaceOfRun(sid);
  const backLink = wid ? h("a", { class: "ws-back", href: workspacePath(wid), "data-link": true, "data-back": "workspace" }, "← Workspace") : null;
  setHeaderAction(backLink ? h("span", { class: "header-actions" }, backLink, shareBtn) : shareBtn);
  document.title = `${displaySid(sid)} · TF Watcher`;

  return {
    statusPill, nameEl, errorBox, bar, barWrap, fields, labels, freshness, notices, latestBody, epochBtn, batchBtn,
    kindTabs, chartsBox, emptyCharts, evals, shareBtn, body, main, ownerSlot, notifySlot,
    config, configBody, versionsEl, csvBtn,
    ownerKey: ownerKey(sid),
  };
}

export function setHeaderAction(el: HTMLElement | null): void {
  const slot = document.getElementById("header-action");
  if (!slot) return;
  slot.replaceChildren(...(el ? [el] : []));
}
