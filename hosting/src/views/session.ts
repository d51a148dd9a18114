/**
 * `/s/{sid}`: live view of one session. Status, progress, elapsed time, ETA and the age of the
 * last update (refreshed every second); an epoch view and a batch view of the metrics
 * (train and `val_` on the same axes) plus seconds per epoch or batch. Loaded on demand, so
 * the home screen does not pay for Firestore and uPlot.
 */
import { Chart, type ChartSpec } from "../charts";
import { getDb, getFirebase } from "../firebase";
import { mountNotify, mountStop, pushSupported, type Control } from "./controls";
import { subscribeSession, type SessionData } from "../data";
import { h, setText } from "../dom";
import { buildSessionShell, setHeaderAction, type SessionShell } from "./session-shell";
import { rememberSession } from "../recent";
import {
  buildEpochTable,
  groupData,
  groupMetrics,
  type BatchSeries,
  type Table,
} from "../series";
import {
  SCHEMA_VERSION,
  STATUS_LABEL,
  effectiveStatus,
  estimateEta,
  formatAge,
  formatDuration,
  formatValue,
  fractionDone,
  lastActivityMs,
  parseSession,
  type SessionInfo,
  type Status,
} from "../status";
import { shareSession } from "../share";
import { displaySid } from "../sid";
import { messageState, toast } from "./common";

type ViewKind = "epochs" | "batches";
const VIEW_KEY = "tfw:view";

export function mountSession(root: HTMLElement, sid: string, shell: SessionShell = buildSessionShell(root, sid)): () => void {
  let disposed = false;
  let unsubscribe: (() => void) | null = null;
  let data: SessionData | null = null;
  let info: SessionInfo | null = null;
  let renderQueued = 0;
  let chosenView: ViewKind | null = readView();
  let batchKind: string | null = null;
  let epochTable: Table | null = null;
  let epochTableVersion = -1;
  const charts = new Map<string, Chart>();
  let chartsFor = ""; // "epochs" or "batches:train": what the charts show now
  const seenVersion = new Map<string, number>();

  const {
    statusPill, nameEl, errorBox, bar, barWrap, fields, notices, latestBody, epochBtn, batchBtn,
    kindTabs, chartsBox, emptyCharts, evals, shareBtn, body, main, ownerSlot, notifySlot,
  } = shell;

  // Stop (owner link only: a viewer link has no key and gets no button) and Notify me.
  const controls: Control[] = [];
  if (shell.ownerKey) controls.push(mountStop(ownerSlot, sid, shell.ownerKey, getDb()));
  if (pushSupported()) controls.push(mountNotify(notifySlot, sid, getFirebase));

  shareBtn.addEventListener("click", async () => {
    const title = info?.name ? `TF Watcher: ${info.name}` : `TF Watcher session ${displaySid(sid)}`;
    const r = await shareSession(sid, title);
    if (r === "copied") toast("Link copied");
    else if (r === "failed") toast(`Copy failed: ${location.origin}/s/${sid}`);
  });
  for (const b of [epochBtn, batchBtn]) {
    b.addEventListener("click", () => {
      chosenView = b.dataset.view as ViewKind;
      try {
        localStorage.setItem(VIEW_KEY, chosenView);
      } catch {
        /* ignore */
      }
      queueRender();
    });
  }

  // ---- data ------------------------------------------------------------------------------
  getDb()
    .then((db) => {
      if (disposed) return;
      unsubscribe = subscribeSession(db, sid, (d) => {
        data = d;
        queueRender();
      });
    })
    .catch((err: Error) => {
      if (disposed) return;
      showState(messageState("error", "Can't reach the database", err.message));
    });

  const tick = window.setInterval(() => renderStatus(), 1000);
  const onlineChange = () => queueRender();
  window.addEventListener("online", onlineChange);
  window.addEventListener("offline", onlineChange);
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const onTheme = () => charts.forEach((c) => c.restyle());
  dark.addEventListener("change", onTheme);

  function queueRender(): void {
    if (renderQueued || disposed) return;
    renderQueued = requestAnimationFrame(() => {
      renderQueued = 0;
      render();
    });
  }

  let stateShown: HTMLElement | null = null;
  function showState(el: HTMLElement | null): void {
    if (stateShown === el) return;
    stateShown?.remove();
    stateShown = el;
    if (el) {
      body.hidden = true;
      main.appendChild(el);
    } else {
      body.hidden = false;
    }
  }

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
    if (info.schema > SCHEMA_VERSION) {
      return showState(messageState("newer", "Newer session format", "This session was written by a newer TF Watcher. Update this dashboard (reload, or redeploy Hosting) to view it."));
    }
    showState(null);
    rememberSession(sid, info.name, info.status);
    setText(nameEl, info.name);
    renderLatest(info);
    for (const c of controls) c.update(info.status, data.session);
    renderStatus();
    renderCharts();
  }

  function renderBanner(): void {
    const offline = !navigator.onLine || (data?.fromCache === true && data.state === "ok");
    setBanner(offline ? (navigator.onLine ? "Connecting… showing saved data" : "Offline — showing saved data") : null);
  }

  function currentStatus(now: number): { status: Status; last: number | null } {
    if (!info || !data) return { status: "unknown", last: null };
    const et = epochTable;
    const lastEpoch = et && et.time.length ? et.time[et.time.length - 1] : null;
    let lastBatch: number | null = null;
    for (const s of data.batches.kinds.values()) {
      const t = s.table.time;
      const v = t.length ? t[t.length - 1] : null;
      if (v != null && (lastBatch == null || v > lastBatch)) lastBatch = v;
    }
    const last = lastActivityMs(info.heartbeatMs, lastEpoch, lastBatch);
    return { status: effectiveStatus(info.status, last, now), last };
  }

  function renderStatus(): void {
    if (!info || !data || data.state !== "ok") return;
    const now = Date.now();
    const { status, last } = currentStatus(now);
    statusPill.dataset.status = status;
    setText(statusPill, STATUS_LABEL[status]);
    if (status === "crashed" && info.error) {
      errorBox.hidden = false;
      setText(errorBox, `${info.error.type}: ${info.error.message}`);
    } else if (status === "stalled") {
      errorBox.hidden = false;
      setText(errorBox, `No update for ${formatAge(last == null ? null : now - last).replace(" ago", "")}: the training process may have died or lost its network.`);
    } else {
      errorBox.hidden = true;
    }
    const { plan, progress } = info;
    setText(fields.epoch, progress ? `${progress.epoch}${plan.epochs ? ` of ${plan.epochs}` : ""}` : "—");
    setText(fields.step, progress ? `${progress.batch}${plan.steps ? ` of ${plan.steps}` : ""}` : "—");
    const frac = fractionDone(plan, progress);
    const pct = frac == null ? 0 : Math.round(frac * 1000) / 10;
    bar.style.width = `${status === "finished" ? 100 : pct}%`;
    barWrap.setAttribute("aria-valuenow", String(status === "finished" ? 100 : pct));
    const end = info.endedMs ?? (status === "running" || status === "stalled" ? now : last);
    setText(fields.elapsed, info.createdMs != null && end != null ? formatDuration((end - info.createdMs) / 1000) : "—");
    const trainBatches = data.batches.kinds.get("train");
    const eta = estimateEta({
      status,
      plan,
      progress,
      epochSeconds: epochTable ? epochTable.seconds.slice(-5) : [],
      batchSeconds: trainBatches ? trainBatches.table.seconds.slice(-50) : [],
    });
    setText(fields.eta, status === "finished" ? "done" : eta == null ? "—" : formatDuration(eta));
    setText(fields.age, formatAge(last == null ? null : now - last));
  }

  function renderLatest(i: SessionInfo): void {
    const rows = i.latest.map((l) =>
      h("tr", {}, h("th", { scope: "row" }, l.name), h("td", { class: l.value != null && !Number.isFinite(l.value) ? "bad" : "" }, formatValue(l.value))),
    );
    const sig = i.latest.map((l) => `${l.name}=${l.value}`).join("\u0000");
    if (latestBody.dataset.sig === sig) return;
    latestBody.dataset.sig = sig;
    latestBody.replaceChildren(...rows);
  }

  // ---- charts ----------------------------------------------------------------------------
  function pickView(): ViewKind {
    if (chosenView) return chosenView;
    const trainEpochs = epochTable?.x.length ?? 0;
    const anyBatches = [...(data?.batches.kinds.values() ?? [])].some((s) => s.pointCount > 0);
    return trainEpochs >= 2 || !anyBatches ? "epochs" : "batches";
  }

  function renderCharts(): void {
    if (!data) return;
    if (epochTableVersion !== data.epochsVersion) {
      epochTable = buildEpochTable(data.epochs.values());
      epochTable.version = data.epochsVersion + 1;
      epochTableVersion = data.epochsVersion;
      renderEvals();
    }
    const view = pickView();
    epochBtn.setAttribute("aria-selected", String(view === "epochs"));
    batchBtn.setAttribute("aria-selected", String(view === "batches"));

    let table: Table;
    let key: string;
    let xLabel: string;
    let series: BatchSeries | null = null;
    if (view === "epochs") {
      table = epochTable!;
      key = "epochs";
      xLabel = "epoch";
      kindTabs.hidden = true;
    } else {
      const kinds = [...data.batches.kinds.entries()].filter(([, s]) => s.pointCount > 0).map(([k]) => k);
      if (!batchKind || !kinds.includes(batchKind)) batchKind = kinds.includes("train") ? "train" : (kinds[0] ?? "train");
      renderKindTabs(kinds);
      series = data.batches.kinds.get(batchKind) ?? null;
      table = series?.table ?? buildEpochTable([]);
      key = `batches:${batchKind}`;
      xLabel = batchKind === "train" ? "step" : `${batchKind} batch`;
    }
    data.changedKinds.clear();

    const groups = groupMetrics(table.names);
    const specs: { spec: ChartSpec; data: (number | null)[][] }[] = groups.map((g) => ({
      spec: {
        key: `m:${g.title}|${g.train ?? ""}|${g.val ?? ""}`,
        title: g.title,
        xLabel,
        syncKey: `tfw-${key}`,
        series: [
          ...(g.train ? [{ label: g.train, role: "train" as const }] : []),
          ...(g.val ? [{ label: g.val, role: "val" as const }] : []),
        ],
      },
      data: groupData(table, g),
    }));
    if (table.seconds.some((v) => v != null)) {
      specs.push({
        spec: {
          key: "time",
          title: view === "epochs" ? "Seconds per epoch" : "Seconds per batch",
          xLabel,
          syncKey: `tfw-${key}`,
          series: [{ label: "seconds", role: "time" }],
        },
        data: [table.x, table.seconds],
      });
    }

    if (chartsFor !== key) {
      charts.forEach((c) => c.destroy());
      charts.clear();
      seenVersion.clear();
      chartsFor = key;
    }
    const wanted = new Set(specs.map((s) => s.spec.key));
    for (const [k, c] of charts) {
      if (!wanted.has(k)) {
        c.destroy();
        charts.delete(k);
      }
    }
    const changed = seenVersion.get(key) !== table.version;
    seenVersion.set(key, table.version);
    for (const s of specs) {
      const c = charts.get(s.spec.key);
      if (!c) {
        charts.set(s.spec.key, new Chart(chartsBox, s.spec, s.data));
      } else if (changed) {
        c.setData(s.data);
      }
    }
    // Keep DOM order = spec order (a new metric may arrive between existing ones).
    specs.forEach((s, i) => {
      const el = charts.get(s.spec.key)!.el;
      if (chartsBox.children[i] !== el) chartsBox.insertBefore(el, chartsBox.children[i] ?? null);
    });
    chartsBox.dataset.view = key;
    chartsBox.dataset.points = String(table.x.length);
    emptyCharts.hidden = table.x.length > 0;
    setText(emptyCharts, view === "epochs" && (data.batches.kinds.get("train")?.pointCount ?? 0) > 0
      ? "No epoch has finished yet — see Batches."
      : "Waiting for the first values…");
    renderNotices(table, series, view);
  }

  function renderKindTabs(kinds: string[]): void {
    kindTabs.hidden = kinds.length < 2;
    const sig = kinds.join(",") + "|" + batchKind;
    if (kindTabs.dataset.sig === sig) return;
    kindTabs.dataset.sig = sig;
    kindTabs.replaceChildren(
      ...kinds.map((k) =>
        h("button", {
          type: "button",
          "aria-pressed": String(k === batchKind),
          onclick: () => {
            batchKind = k;
            queueRender();
          },
        }, k),
      ),
    );
  }

  function renderNotices(table: Table, series: BatchSeries | null, view: ViewKind): void {
    const lines: string[] = [];
    for (const [name, nf] of table.nonFinite) {
      const v = formatValue(nf.firstValue);
      lines.push(`${name} was ${v} at ${view === "epochs" ? "epoch" : "step"} ${nf.firstX}${nf.count > 1 ? ` (${nf.count} values not drawn)` : " (not drawn)"}.`);
    }
    if (info?.nan && lines.length === 0) lines.push("A loss value was NaN or infinite.");
    if (series?.thinned) lines.push("Some batch points were merged while the network was down.");
    const sig = lines.join("\n");
    if (notices.dataset.sig === sig) return;
    notices.dataset.sig = sig;
    notices.replaceChildren(...lines.map((l) => h("p", { class: "notice" }, l)));
  }

  function renderEvals(): void {
    if (!data) return;
    const docs = [...data.epochs.values()].filter((d) => d.kind === "evaluate" || d.kind === "predict");
    evals.hidden = docs.length === 0;
    if (!docs.length) return;
    docs.sort((a, b) => (a.kind ?? "").localeCompare(b.kind ?? "") || (a.epoch ?? 0) - (b.epoch ?? 0));
    evals.replaceChildren(
      h("h2", {}, "Evaluation and prediction"),
      ...docs.map((d) => {
        const names = Array.isArray(d.names) ? d.names : [];
        const values = Array.isArray(d.values) ? d.values : [];
        const parts = names.map((n, j) => `${String(n)} ${formatValue(typeof values[j] === "number" ? values[j] : null)}`);
        return h("p", {}, h("strong", {}, `${d.kind} #${d.epoch}: `), parts.join(" · ") || "no values");
      }),
    );
  }

  return () => {
    disposed = true;
    unsubscribe?.();
    window.clearInterval(tick);
    if (renderQueued) cancelAnimationFrame(renderQueued);
    window.removeEventListener("online", onlineChange);
    window.removeEventListener("offline", onlineChange);
    dark.removeEventListener("change", onTheme);
    charts.forEach((c) => c.destroy());
    charts.clear();
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
