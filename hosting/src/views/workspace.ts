/**
 * `/w/{wid}`: every run of a workspace, live (workspace-feed.ts reads, workspace-model.ts
 * decides). Active runs first, then newest; per run its name, status (stall judged as on the
 * session page), progress, age, latest loss and val_loss and a sparkline of recent loss.
 * A tap opens the run (and the session page then links back here); tick up to 5 to compare;
 * filter by status and search by name over the runs loaded so far. Notify me subscribes this
 * device to every run of the workspace (views/notify.ts; the owner link's key makes it the
 * owner's subscription). Its own chunk.
 */
import "../workspace-style.css";
import { getDb, getFirebase } from "../firebase";
import { h, setText } from "../dom";
import { displaySid } from "../sid";
import { displayWid } from "../wid";
import { sessionPath } from "../router";
import { MAX_COMPARE, comparePath } from "../compare-model";
import { middleCut } from "../chart-format";
import { ownerKey } from "../owner";
import { enrolInWorkspace } from "../enrol";
import { ATTENTION } from "../contract";
import { watchVisibility } from "../visibility";
import { rememberRunWorkspace } from "../workspace-memory";
import { subscribeWorkspace, type WorkspaceData, type WorkspaceFeed } from "../workspace-feed";
import {
  FILTERS, FILTER_LABEL, PAGE_SIZE, SHOWN_LABEL, ageText, listView, lossText, progressText, shownStatus, sparkPath,
  type RunRow, type StatusFilter,
} from "../workspace-model";
import { frameRenderer, messageState, stateSlot } from "./common";
import { setHeaderAction } from "./session-shell";
import { mountNotify, pushSupported, workspaceNotify } from "./notify";

const SVG = "http://www.w3.org/2000/svg";
const SPARK_W = 72;
const SPARK_H = 22;
/** Ages and the stall judgement move with the clock: re-judged this often. */
const TICK_MS = 5000;

interface Item {
  li: HTMLLIElement;
  box: HTMLInputElement;
  sig: string;
}

export function mountWorkspace(root: HTMLElement, wid: string, navigate: (path: string) => void): () => void {
  let disposed = false;
  let feed: WorkspaceFeed | null = null;
  let data: WorkspaceData | null = null;
  let filter: StatusFilter = "all";
  let search = "";
  const frames = frameRenderer(() => render());
  let firstListMarked = false;
  const picked: string[] = [];
  const items = new Map<string, Item>();

  // ---- page ---------------------------------------------------------------------------------
  const isOwner = ownerKey(wid) != null;
  const select = h("select", { id: "ws-filter", "aria-label": "Filter by status" });
  const searchBox = h("input", {
    id: "ws-search", type: "search", placeholder: "Search names", autocomplete: "off", autocapitalize: "none",
    spellcheck: "false", "aria-label": "Search runs by name", maxlength: 200,
  });
  const note = h("p", { class: "muted ws-note", "aria-live": "polite" });
  const list = h("ul", { class: "ws-list", "aria-label": "Runs" });
  const empty = h("p", { class: "muted ws-empty" }, "Connecting…");
  const moreBtn = h("button", { type: "button", class: "secondary", "data-action": "more", hidden: true }, "Show more");
  const compareBtn = h("button", { type: "button", class: "secondary", "data-action": "compare", disabled: true }, "Compare");
  // Notify me: whenever push works here (a workspace never ends). With the workspace owner key,
  // this device enrols once as an owner of every run of the workspace (device.ts): their Stop
  // then works here whatever each run's own key, and Notify me waits for that attempt.
  const enrolment = getDb().then((db) => enrolInWorkspace(db, wid)).catch(() => false);
  const notifySlot = h("div", { class: "notify-slot ws-notify", "data-notify": true, hidden: true });
  if (pushSupported()) mountNotify(notifySlot, workspaceNotify(wid, enrolment), getFirebase);
  const main = h(
    "main",
    { class: "workspace", "data-wid": wid },
    h(
      "section",
      { class: "card ws-head" },
      h("h1", {}, "Workspace ", h("span", { class: "sid" }, displayWid(wid)), isOwner ? h("span", { class: "ws-owner muted" }, " · owner") : null),
      h("p", { class: "muted" }, `Runs appear here live as they start. Tick up to ${MAX_COMPARE} to compare.`),
      h("div", { class: "ws-tools" }, select, searchBox),
      notifySlot,
    ),
    note,
    empty,
    list,
    h("div", { class: "ws-more" }, moreBtn),
  );
  root.replaceChildren(main);
  setHeaderAction(compareBtn);
  document.title = `Workspace ${displayWid(wid)} · TF Watcher`;

  select.addEventListener("change", () => {
    filter = select.value as StatusFilter;
    queueRender();
  });
  searchBox.addEventListener("input", () => {
    search = searchBox.value;
    queueRender();
  });
  moreBtn.addEventListener("click", () => void feed?.more());
  compareBtn.addEventListener("click", () => {
    if (picked.length < 2) return;
    for (const sid of picked) rememberRunWorkspace(sid, wid);
    navigate(comparePath(picked));
  });
  // Opening a run (tap, middle click, "open in new tab"): this device now knows its workspace.
  const onOpen = (e: Event) => {
    const a = (e.target as Element | null)?.closest?.("a[data-run]") as HTMLAnchorElement | null;
    if (a?.dataset.run) rememberRunWorkspace(a.dataset.run, wid);
  };
  for (const type of ["click", "auxclick", "contextmenu"]) list.addEventListener(type, onOpen);
  list.addEventListener("change", (e) => {
    const box = e.target as HTMLInputElement;
    const sid = box.dataset.compare;
    if (!sid) return;
    const at = picked.indexOf(sid);
    if (box.checked && at < 0) picked.push(sid);
    if (!box.checked && at >= 0) picked.splice(at, 1);
    syncPicks();
  });

  // ---- data ---------------------------------------------------------------------------------
  // As the session page: a page hidden for 30 s drops its listeners, and listens again when shown.
  const visibility = watchVisibility(document, ATTENTION.hidden_detach_seconds * 1000, () => feed?.detach(), () => feed?.attach());
  getDb()
    .then((db) => {
      if (disposed) return;
      feed = subscribeWorkspace(db, wid, (d) => {
        data = d;
        queueRender();
      });
      if (visibility.detached) feed.detach();
    })
    .catch((err: Error) => {
      if (!disposed) showState(messageState("error", "Can't reach the database", err.message));
    });
  const tick = window.setInterval(() => queueRender(), TICK_MS);

  function queueRender(): void {
    frames.queue();
  }

  const showState = stateSlot(main, (hidden, el) => {
    for (const c of main.children) if (c !== el) (c as HTMLElement).hidden = hidden;
  });

  function render(): void {
    if (!data || disposed) return;
    const offline = !navigator.onLine;
    setBanner(offline && data.rows.size ? "Offline — showing saved runs" : offline ? "Offline" : null);
    if (data.state === "denied") {
      return showState(messageState("denied", "Permission denied", "This project's security rules do not let this browser read the workspace's runs (deploy the current firestore.rules)."));
    }
    if (data.state === "error" && !data.rows.size) return showState(messageState("error", "Something went wrong", data.errorMessage));
    if (data.state === "loading" || (data.rows.size === 0 && data.fromCache)) {
      if (offline) {
        return showState(messageState("offline", "You're offline", "This workspace hasn't been opened on this device before, so nothing is saved here. It will load when you're back online."));
      }
      if (data.state === "loading") return;
    }
    showState(null);
    const now = Date.now();
    const view = listView(data.rows.values(), filter, search, now);
    renderFilter(view.counts);
    const els = view.rows.map((r) => item(r, now).li);
    // Moved only when the order changed (moving a node drops its focus and the reader's place).
    const same = els.length === list.children.length && els.every((el, i) => list.children[i] === el);
    if (!same) list.replaceChildren(...els);
    for (const sid of [...items.keys()]) if (!data.rows.has(sid)) items.delete(sid);
    empty.hidden = els.length > 0;
    setText(empty, view.loaded === 0
      ? `No runs yet. Set TFWATCHER_WORKSPACE=${displayWid(wid)} (or workspace= on the callback) and each run appears here as it starts.`
      : "No loaded run matches.");
    const narrowed = filter !== "all" || search.trim() !== "";
    const more = data.hasMore ? " · older runs not loaded yet" : "";
    setText(note, narrowed
      ? `${view.rows.length} of ${view.loaded} loaded runs match — filter and search look at the runs loaded so far${more ? "; Show more loads older ones" : ""}.`
      : `${view.loaded} run${view.loaded === 1 ? "" : "s"}${more}.`);
    moreBtn.hidden = !data.hasMore;
    moreBtn.disabled = data.loadingMore;
    setText(moreBtn, data.loadingMore ? "Loading…" : `Show ${PAGE_SIZE} more`);
    syncPicks();
    if (!firstListMarked && view.loaded > 0) {
      firstListMarked = true;
      performance.mark("tfw:first-list");
    }
  }

  function renderFilter(counts: Record<StatusFilter, number>): void {
    const sig = JSON.stringify([counts, filter]);
    if (select.dataset.sig === sig) return;
    select.dataset.sig = sig;
    select.replaceChildren(...FILTERS.map((f) => {
      const o = h("option", { value: f }, `${FILTER_LABEL[f]} (${counts[f]})`);
      o.selected = f === filter;
      return o;
    }));
  }

  /** The list item of a run, rebuilt only when what it shows changed. */
  function item(r: RunRow, now: number): Item {
    const shown = shownStatus(r, now);
    const name = r.name;
    const progress = progressText(r);
    const age = ageText(r, shown, now);
    const loss = lossText(r);
    const path = sparkPath(r.spark, SPARK_W, SPARK_H);
    const sig = JSON.stringify([name, shown, progress, age, loss, path]);
    let it = items.get(r.sid);
    if (it && it.sig === sig) return it;
    const label = name || displaySid(r.sid);
    const box = it?.box ?? h("input", { type: "checkbox", "data-compare": r.sid });
    box.setAttribute("aria-label", `Compare ${label}`);
    const short = middleCut(name, 60);
    const link = h(
      "a",
      { class: "ws-run", href: sessionPath(r.sid), "data-link": true, "data-run": r.sid },
      h(
        "span",
        { class: "ws-line" },
        // An unnamed run goes by its ID.
        h("span", { class: `ws-name clamp${name ? "" : " sid"}`, title: name || null }, name ? short : label),
        h("span", { class: "pill", "data-status": shown }, SHOWN_LABEL[shown]),
      ),
      h("span", { class: "ws-meta muted" }, ...meta([progress, age])),
      h("span", { class: "ws-line" }, h("span", { class: "ws-loss" }, loss || "no loss yet"), spark(path)),
    );
    const li = it?.li ?? h("li", { class: "ws-item" });
    li.dataset.sid = r.sid;
    li.dataset.status = shown;
    li.replaceChildren(h("label", { class: "pick", title: "Select to compare" }, box), link);
    it = { li, box, sig };
    items.set(r.sid, it);
    return it;
  }

  function syncPicks(): void {
    for (let i = picked.length - 1; i >= 0; i--) if (!data?.rows.has(picked[i])) picked.splice(i, 1);
    compareBtn.disabled = picked.length < 2;
    compareBtn.classList.toggle("secondary", picked.length < 2);
    setText(compareBtn, picked.length ? `Compare (${picked.length})` : "Compare");
    for (const [sid, it] of items) {
      it.box.checked = picked.includes(sid);
      it.box.disabled = !it.box.checked && picked.length >= MAX_COMPARE;
    }
  }

  return () => {
    disposed = true;
    visibility.stop();
    feed?.stop();
    window.clearInterval(tick);
    frames.stop();
    setHeaderAction(null);
    setBanner(null);
  };
}

/** Facts joined by " · ", each kept whole when the line wraps. */
function meta(parts: string[]): (Node | string)[] {
  const out: (Node | string)[] = [];
  for (const p of parts.flatMap((x) => x.split(" · ")).filter(Boolean)) {
    if (out.length) out.push(" · ");
    out.push(h("span", { class: "nowrap" }, p));
  }
  return out;
}

/** The sparkline: an inline SVG path (32 points need no chart library). */
function spark(path: string): Element {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${SPARK_W} ${SPARK_H}`);
  svg.setAttribute("width", String(SPARK_W));
  svg.setAttribute("height", String(SPARK_H));
  svg.setAttribute("aria-hidden", "true");
  if (path) {
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
  }
  return svg;
}

function setBanner(text: string | null): void {
  const b = document.getElementById("banner");
  if (!b) return;
  b.hidden = text == null;
  setText(b, text ?? "");
}
