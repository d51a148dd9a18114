/**
 * `/s/{sid}`: live view of one session. Status, progress, elapsed time, ETA and the age of the
 * last update (refreshed every second); an epoch view and a batch view of the metrics
 * (train and `val_` on the same axes) plus seconds per epoch or batch. Loaded on demand, so
 * the home screen does not pay for Firestore and uPlot. This module wires the parts: what to
 * show is decided in session-model.ts, drawn by session-info.ts (text) and session-charts.ts.
 */
import { getDb, getFirebase } from "../firebase";
import { mayStop, mountNotify, mountStop, pushSupported, sessionNotify, type Control } from "./controls";
import { subscribeSession, type SessionData, type SessionFeed } from "../data";
import { setText } from "../dom";
import { buildEpochTable } from "../epoch-table";
import { buildSessionShell, setHeaderAction, type SessionShell } from "./session-shell";
import { rememberSession } from "../recent";
import type { Table } from "../series";
import { SCHEMA_VERSION, parseSession, type SessionInfo } from "../status";
import { shareSession } from "../share";
import { displaySid } from "../sid";
import { frameRenderer, messageState, stateSlot, toast } from "./common";
import { mountChartsPanel } from "./session-charts";
import { renderEvals, renderLatest, renderStatusCard } from "./session-info";
import { chooseView, epochFacts, kindsWithPoints, latestValues, statusCard, type EpochFacts, type ViewKind } from "./session-model";
import { runKind } from "../kinds";
import { ATTENTION, collectionPath, presenceId } from "../contract";
import { watchVisibility } from "../visibility";
import { freshnessNote, startPresence } from "../presence";
import { Timestamp, doc, serverTimestamp, setDoc } from "firebase/firestore";

const VIEW_KEY = "tfw:view";

export function mountSession(root: HTMLElement, sid: string, shell: SessionShell = buildSessionShell(root, sid)): () => void {
  let disposed = false;
  let unsubscribe: (() => void) | null = null;
  let feed: SessionFeed | null = null;
  let data: SessionData | null = null;
  let info: SessionInfo | null = null;
  const frames = frameRenderer(() => render());
  let chosenView: ViewKind | null = readView();
  let chosenHere: ViewKind | null = null; // picked on this page (not remembered from another session)
  let epochTable: Table | null = null;
  let epochTableVersion = -1;

  const { nameEl, epochBtn, batchBtn, shareBtn, body, main, ownerSlot, notifySlot, csvBtn } = shell;
  const chartsPanel = mountChartsPanel(shell, { feed: () => feed, view: () => pickView(), queueRender: () => queueRender() });

  // Stop (owners only: the owner link's key, this device enrolled as an owner, or the owner of
  // the workspace it came from; a viewer gets no button) and Notify me.
  const controls: Control[] = [];
  if (mayStop(sid)) controls.push(mountStop(ownerSlot, sid, getDb()));
  const notify = pushSupported() ? mountNotify(notifySlot, sessionNotify(sid), getFirebase) : null;
  if (notify) controls.push(notify);

  // Download CSV: every raw point, read on the press (its code is a chunk of its own).
  csvBtn.addEventListener("click", async () => {
    if (csvBtn.disabled) return;
    csvBtn.disabled = true;
    setText(csvBtn, "CSV…");
    try {
      const [{ downloadSessionCsv }, db] = await Promise.all([import("./csv-download"), getDb()]);
      const r = await downloadSessionCsv(db, sid, new URLSearchParams(location.search).get("csv") === "raw");
      toast(`CSV saved: ${r.rows.toLocaleString()} rows`);
    } catch (err) {
      toast(`CSV failed: ${(err as Error).message ?? String(err)}`);
    } finally {
      csvBtn.disabled = false;
      setText(csvBtn, "CSV");
    }
  });

  shareBtn.addEventListener("click", async () => {
    const title = info?.name ? `TF Watcher: ${info.name}` : `TF Watcher session ${displaySid(sid)}`;
    const r = await shareSession(sid, title);
    if (r === "copied") toast("Link copied");
    else if (r === "failed") toast(`Copy failed: ${location.origin}/s/${sid}`);
  });
  for (const b of [epochBtn, batchBtn]) {
    b.addEventListener("click", () => {
      chosenView = b.dataset.view as ViewKind;
      chosenHere = chosenView;
      try {
        localStorage.setItem(VIEW_KEY, chosenView);
      } catch {
        /* ignore */
      }
      queueRender();
    });
  }

  // ---- data ------------------------------------------------------------------------------
  // A page hidden for more than 30 s drops every listener; shown again, it listens again and
  // catches up from what it holds (`data-listeners` on <body> says which, for the e2e tests).
  const listeners = (state: "attached" | "detached") => (document.body.dataset.listeners = state);
  // Presence (src/presence.ts): announced while shown and the run is new or running, from the
  // server's word on the status (a cached snapshot may be stale).
  const presence = startPresence({
    doc: document,
    changed: () => renderStatus(),
    write: async (until) =>
      setDoc(doc(await getDb(), collectionPath(sid, "presence"), presenceId()), { until: Timestamp.fromMillis(until), at: serverTimestamp() }),
  });
  let heartbeatSeen: number | null = null; // local time a new heartbeat last arrived
  let heartbeatHeld: number | null = null;
  const visibility = watchVisibility(
    document,
    ATTENTION.hidden_detach_seconds * 1000,
    () => {
      feed?.detach();
      presence.session("", null); // until the re-attached listener has the server's status again
      listeners("detached");
    },
    () => {
      feed?.attach();
      listeners("attached");
      queueRender();
    },
  );
  getDb()
    .then((db) => {
      if (disposed) return;
      // `?path=chunks` reads every chunk even for schema 2 (the benchmark compares both paths).
      const forceChunks = new URLSearchParams(location.search).get("path") === "chunks";
      feed = subscribeSession(db, sid, (d) => {
        data = d;
        queueRender();
      }, { forceChunks });
      if (visibility.detached) feed.detach();
      else listeners("attached");
      unsubscribe = () => feed?.stop();
    })
    .catch((err: Error) => {
      if (disposed) return;
      showState(messageState("error", "Can't reach the database", err.message));
    });

  const tick = window.setInterval(() => renderStatus(), 1000);
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const onTheme = () => chartsPanel.restyle();
  dark.addEventListener("change", onTheme);

  function queueRender(): void {
    frames.queue();
  }

  const showState = stateSlot(main, (hidden) => {
    body.hidden = hidden;
  });

  function render(): void {
    if (!data || disposed) return;
    renderBanner();
    if (data.state === "missing") {
      return showState(
        messageState("missing", "Session not found", `No session “${displaySid(sid)}” exists. Check the ID — it is printed by the notebook when training starts — or the session may have been deleted.`),
      );
    }
    if (data.state === "denied" && !data.session) {
      return showState(messageState("denied", "Permission denied", "This project's security rules do not let this browser read the session."));
    }
    if (data.state === "error" && !data.session) {
      return showState(messageState("error", "Something went wrong", data.errorMessage));
    }
    if (data.state === "loading") {
      if (!navigator.onLine) {
        return showState(messageState("offline", "You're offline", "This session hasn't been opened on this device before, so nothing is saved here. It will load when you're back online."));
      }
      return; // keep the skeleton ("Connecting…")
    }
    if (!data.session) return;
    info = parseSession(data.session);
    if (!data.fromCache) {
      presence.session(info.status, info.heartbeatMs);
      if (info.heartbeatMs !== heartbeatHeld) {
        heartbeatHeld = info.heartbeatMs;
        heartbeatSeen = Date.now();
      }
    }
    if (info.schema > SCHEMA_VERSION) {
      return showState(messageState("newer", "Newer session format", "This session was written by a newer TF Watcher. Update this dashboard (reload, or redeploy Hosting) to view it."));
    }
    showState(null);
    rememberSession(sid, info.name, info.status, Date.now(), { nan: info.nan, endedMs: info.endedMs });
    setText(nameEl, info.name);
    renderCharts();
    renderLatest(shell, info, latestValues(info, epochTable, data.batches.kinds.get(runKind(info.mode))?.table ?? null));
    shownStatus = "";
    renderStatus();
  }

  function renderBanner(): void {
    const offline = !navigator.onLine || (data?.fromCache === true && data.state === "ok");
    // Nothing saved on this device (a session never opened here): the page says so, the banner only "Offline".
    const saved = data?.session != null;
    setBanner(offline ? (navigator.onLine ? "Connecting… showing saved data" : saved ? "Offline — showing saved data" : "Offline") : null);
  }

  // What the status card needs of the epochs, worked out once per change of data.epochs
  // (independent of the charts, so the card moves in the same frame as the data arrives).
  let facts: EpochFacts | null = null;
  function renderStatus(): void {
    if (!info || !data || data.state !== "ok") return;
    if (facts?.version !== data.epochsVersion) facts = epochFacts(data.epochs.values(), data.epochsVersion);
    const card = statusCard(info, epochTable, data.batches.kinds, facts, Date.now());
    renderStatusCard(shell, card);
    const note = freshnessNote({
      stored: info.status, shown: card.status, declaredS: info.heartbeatEvery, announcedMs: presence.announcedMs, heartbeatSeenMs: heartbeatSeen,
    });
    shell.freshness.hidden = note == null;
    setText(shell.freshness, note ?? "");
    // Stop follows the stored status; Notify me the shown one (a stalled run may be dead).
    if (shownStatus !== card.status) {
      shownStatus = card.status;
      for (const c of controls) c.update(c === notify ? card.status : info.status, data.session);
    }
  }
  let shownStatus = "";

  // ---- charts ----------------------------------------------------------------------------
  function pickView(): ViewKind {
    const choice = chooseView({
      kinds: data ? kindsWithPoints(data.batches.kinds) : [],
      progressBatch: info?.progress?.batch ?? 0,
      chosenView,
      chosenHere,
      trainEpochs: epochTable?.x.length ?? 0,
    });
    batchBtn.hidden = !choice.batchTab;
    setText(batchBtn, choice.batchLabel);
    return choice.view;
  }

  function renderCharts(): void {
    if (!data) return;
    if (epochTableVersion !== data.epochsVersion) {
      epochTable = buildEpochTable(data.epochs.values());
      epochTable.version = data.epochsVersion + 1;
      epochTableVersion = data.epochsVersion;
      renderEvals(shell, data.epochs.values());
    }
    const view = pickView();
    epochBtn.setAttribute("aria-selected", String(view === "epochs"));
    batchBtn.setAttribute("aria-selected", String(view === "batches"));
    chartsPanel.render(data, info, epochTable!, view);
  }

  return () => {
    disposed = true;
    visibility.stop();
    presence.stop();
    delete document.body.dataset.listeners;
    unsubscribe?.();
    window.clearInterval(tick);
    frames.stop();
    dark.removeEventListener("change", onTheme);
    chartsPanel.destroy();
    setHeaderAction(null);
    setBanner(null);
  };
}

function readView(): ViewKind | null {
  try {
    const v = localStorage.getItem(VIEW_KEY);
    return v === "epochs" || v === "batches" ? v : null;
  } catch {
    return null;
  }
}

function setBanner(text: string | null): void {
  const b = document.getElementById("banner");
  if (!b) return;
  b.hidden = text == null;
  setText(b, text ?? "");
}
