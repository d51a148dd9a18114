/**
 * `/s/{sid}`: live view of one session. Status, progress, elapsed time, ETA and the age of the
 * last update (refreshed every second); an epoch view and a batch view of the metrics
 * (train and `val_` on the same axes) plus seconds per epoch or batch. Loaded on demand, so
 * the home screen does not pay for Firestore and uPlot.
 */
import { Chart, buildTools, savedSmoothing, type ChartHooks, type ChartInput, type ChartSpec, type Tools, type ToolState } from "../charts";
import { getDb, getFirebase } from "../firebase";
import { mountNotify, mountStop, pushSupported, type Control } from "./controls";
import { SYSTEM_KIND, subscribeSession, type SessionData, type SessionFeed } from "../data";
import { h, setText } from "../dom";
import { buildSessionShell, setHeaderAction, type SessionShell } from "./session-shell";
import { rememberSession } from "../recent";
import {
  buildEpochTable,
  groupMetrics,
  type KindSeries,
  type Num,
  type Table,
} from "../series";
import { SECONDS, indexRange, orderGroups, stepsToEpochs } from "../summaries";
import {
  SCHEMA_VERSION,
  STATUS_LABEL,
  effectiveStatus,
  estimateEta,
  formatAge,
  formatDuration,
  formatConfigValue,
  formatValue,
  lastActivityMs,
  liveProgress,
  ofTotal,
  parseSession,
  runKind,
  type NewestBatch,
  type NewestEpoch,
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
  let feed: SessionFeed | null = null;
  let data: SessionData | null = null;
  let info: SessionInfo | null = null;
  let renderQueued = 0;
  let chosenView: ViewKind | null = readView();
  let chosenHere: ViewKind | null = null; // picked on this page (not remembered from another session)
  let batchKind: string | null = null;
  let kindPicked = false; // a kind tab pressed on this page (else train, as soon as it has points)
  let epochTable: Table | null = null;
  let epochTableVersion = -1;
  const charts = new Map<string, Chart>();
  let chartsFor = ""; // "epochs" or "batches:train": what the charts show now
  const seenVersion = new Map<string, number>();

  const {
    statusPill, nameEl, errorBox, bar, barWrap, fields, notices, latestBody, epochBtn, batchBtn,
    kindTabs, chartsBox, emptyCharts, evals, shareBtn, body, main, ownerSlot, notifySlot,
    labels, config, configBody, versionsEl, csvBtn,
  } = shell;

  // Stop (owner link only: a viewer link has no key and gets no button) and Notify me.
  const controls: Control[] = [];
  if (shell.ownerKey) controls.push(mountStop(ownerSlot, sid, shell.ownerKey, getDb()));
  if (pushSupported()) controls.push(mountNotify(notifySlot, sid, getFirebase));

  // Download CSV: every raw point, read on the press (its code is a chunk of its own).
  csvBtn.addEventListener("click", async () => {
    if (csvBtn.disabled) return;
    csvBtn.disabled = true;
    setText(csvBtn, "CSV…");
    try {
      const [{ downloadSessionCsv }, db] = await Promise.all([import("./csv-download"), getDb()]);
      const r = await downloadSessionCsv(db, sid);
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
  getDb()
    .then((db) => {
      if (disposed) return;
      // `?path=chunks` reads every chunk even for schema 2 (the benchmark compares both paths).
      const forceChunks = new URLSearchParams(location.search).get("path") === "chunks";
      feed = subscribeSession(db, sid, (d) => {
        data = d;
        queueRender();
      }, { forceChunks });
      unsubscribe = () => feed?.stop();
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

  // What the status card needs of the epochs, worked out once per change of data.epochs
  // (independent of the charts, so the card moves in the same frame as the data arrives).
  let epochFacts = { version: -1, newest: null as NewestEpoch | null, seconds: [] as (number | null)[], lastTime: null as number | null };
  function statusEpochs(d: SessionData): typeof epochFacts {
    if (epochFacts.version === d.epochsVersion) return epochFacts;
    const train = new Map<number, { step: number | null; time: number | null; seconds: number | null }>();
    let lastTime: number | null = null;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
    for (const e of d.epochs.values()) {
      const t = num(e.time);
      if (t != null && (lastTime == null || t > lastTime)) lastTime = t;
      if ((e.kind ?? "train") !== "train" || typeof e.epoch !== "number") continue;
      train.set(e.epoch, { step: num(e.step), time: t, seconds: num(e.seconds) });
    }
    const order = [...train.keys()].sort((a, b) => a - b);
    const top = order.length ? order[order.length - 1] : null;
    epochFacts = {
      version: d.epochsVersion,
      newest: top == null ? null : { epoch: top, step: train.get(top)!.step, time: train.get(top)!.time },
      seconds: order.slice(-5).map((e) => train.get(e)!.seconds),
      lastTime,
    };
    return epochFacts;
  }

  /**
   * The newest point of a batch kind, from its table (x = step). TODO(data.ts): when the data
   * object carries the newest point's own epoch/batch per kind, pass them here; until then
   * liveProgress counts them on from the session document's progress (exact for fit).
   */
  function newestPoint(kind: string): NewestBatch | null {
    const series = data?.batches.kinds.get(kind);
    const raw = series?.newest?.();
    if (raw) return raw;
    const t = series?.table;
    if (!t || !t.x.length) return null;
    const i = t.x.length - 1;
    const step = t.x[i];
    return typeof step === "number" ? { step, time: t.time[i] ?? null } : null;
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
    // Progress from the newest data (epoch rows, batch points), not only the heartbeat.
    const ep = statusEpochs(data);
    const kind = runKind(info.mode);
    const point = newestPoint(kind);
    // evaluate/predict: a point older than the newest epoch record or train point is an earlier run's.
    const trainPoint = kind === "train" ? null : newestPoint("train");
    const since = kind === "train" ? null : Math.max(ep.lastTime ?? -Infinity, trainPoint?.time ?? -Infinity);
    const live = liveProgress(info, kind === "train" ? ep.newest : null, point, since != null && Number.isFinite(since) ? since : null);
    setText(labels.epoch, live.epochLabel);
    setText(labels.step, live.stepLabel);
    setText(fields.epoch, kind === "train" ? ofTotal(live.epoch, live.epochTotal) : live.epoch != null ? `#${live.epoch}` : "—");
    setText(fields.step, ofTotal(live.batch, live.batchTotal));
    const pct = status === "finished" ? 100 : live.fraction == null ? 0 : Math.round(live.fraction * 1000) / 10;
    bar.style.width = `${pct}%`;
    barWrap.setAttribute("aria-valuenow", String(pct));
    const end = info.endedMs ?? (status === "running" || status === "stalled" ? now : last);
    setText(fields.elapsed, info.createdMs != null && end != null ? formatDuration((end - info.createdMs) / 1000) : "—");
    const kindBatches = data.batches.kinds.get(kind);
    const eta = estimateEta({
      status,
      plan: info.plan,
      progress: live.progress,
      kind,
      epochSeconds: kind === "train" ? ep.seconds : [],
      batchSeconds: kindBatches ? kindBatches.table.seconds.slice(-50) : [],
      sinceEpochEnd: ep.newest?.time != null ? now / 1000 - ep.newest.time : null,
    });
    setText(fields.eta, status === "finished" ? "done" : eta == null ? "—" : formatDuration(eta));
    setText(fields.age, formatAge(last == null ? null : now - last));
  }

  function renderLatest(i: SessionInfo): void {
    renderConfig(i);
    const sig = i.latest.map((l) => `${l.name}=${l.value}`).join("\u0000");
    if (latestBody.dataset.sig === sig) return;
    latestBody.dataset.sig = sig;
    // Names cut to two lines (all of it in `title` and on a tap); values never break.
    const rows = i.latest.map((l) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("span", { class: "clamp", title: l.name }, l.name)),
        h("td", { class: l.value != null && !Number.isFinite(l.value) ? "num bad" : "num" }, formatValue(l.value)),
      ),
    );
    latestBody.replaceChildren(...rows);
  }

  /** What was run: `config` (hyperparameters; text shown as text) and the library versions. */
  function renderConfig(i: SessionInfo): void {
    const first = ["tfwatcher", "python", "tensorflow", "keras"];
    const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
    const versions = Object.entries(i.versions)
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(" · ");
    const sig = JSON.stringify([i.config, versions]);
    if (config.dataset.sig === sig) return;
    config.dataset.sig = sig;
    config.hidden = i.config.length === 0 && !versions;
    configBody.parentElement!.hidden = i.config.length === 0;
    configBody.replaceChildren(
      ...i.config.map((c) =>
        h(
          "tr",
          { "data-config-name": c.name },
          h("th", { scope: "row" }, h("span", { class: "clamp", title: c.name }, c.name)),
          h(
            "td",
            { class: typeof c.value === "number" ? "num" : "text", "data-type": c.value === null ? "null" : typeof c.value },
            h("span", { class: "clamp", title: formatConfigValue(c.value) }, formatConfigValue(c.value)),
          ),
        ),
      ),
    );
    versionsEl.hidden = !versions;
    setText(versionsEl, versions ? `Versions: ${versions}` : "");
  }

  // ---- charts ----------------------------------------------------------------------------
  function pickView(): ViewKind {
    // Epoch-only sessions (no batch points of any kind) have no Batches tab at all, and a
    // "Batches" choice remembered from another session does not apply to them. The session
    // document's progress says whether train batches were logged before their chunks arrive.
    // System metrics are stored as a batch kind of their own ("system"): where they are the
    // only one, the tab is called System and the view opens on the epochs unless System was
    // picked on this page.
    const kinds = [...(data?.batches.kinds.entries() ?? [])].filter(([, s]) => s.pointCount > 0).map(([k]) => k);
    const trainingBatches = kinds.some((k) => k !== SYSTEM_KIND) || (info?.progress?.batch ?? 0) > 0;
    const anyBatches = trainingBatches || kinds.length > 0;
    batchBtn.hidden = !anyBatches;
    setText(batchBtn, trainingBatches ? "Batches" : "System");
    if (!anyBatches) return "epochs";
    if (!trainingBatches) return chosenHere === "batches" ? "batches" : "epochs";
    if (chosenView) return chosenView;
    const trainEpochs = epochTable?.x.length ?? 0;
    return trainEpochs >= 2 ? "epochs" : "batches";
  }

  // Chart tools and zoom (docs/dashboard.md, "Long runs, zoom and chart tools"). The zoom range
  // is in the x axis' units; on the summary path a zoom reads finer data for it.
  const tool: ToolState = { smooth: savedSmoothing(), log: false, xMode: "step" };
  let tools: Tools | null = null;
  let zoom: [number, number] | null = null;
  let zoomTable: Table | null = null;
  let zoomGen = 0;
  let shownX: Num[] = []; // x values of what is drawn, and the steps under them
  let shownSteps: Num[] = [];
  let seenTable: Table | null = null;
  const debug = new URLSearchParams(location.search).has("debug");

  const chartHooks: ChartHooks = {
    onZoom: (a, b) => setZoom([Math.min(a, b), Math.max(a, b)]),
    onZoomLive: (a, b) => charts.forEach((c) => c.uplot?.setScale("x", { min: a, max: b })),
    onReset: () => setZoom(null),
  };
  if (debug) (window as unknown as { __tfwView: unknown }).__tfwView = { zoom: chartHooks.onZoom, reset: chartHooks.onReset, feed: () => feed };

  function setZoom(r: [number, number] | null): void {
    if (r && !(r[1] > r[0])) return;
    if (r && zoom && r[0] === zoom[0] && r[1] === zoom[1]) return; // synced charts report the same select
    zoom = r;
    zoomTable = null;
    if (!r) feed?.unzoom();
    const gen = ++zoomGen;
    tools?.setZoomed(r != null);
    charts.forEach((c) => c.setOptions({ range: r }));
    if (r && feed && data && pickView() === "batches" && batchKind) {
      // x units → steps, through what is drawn now
      let [a, b] = r;
      if (tool.xMode !== "step") {
        const [i, j] = indexRange(shownX, a, b);
        a = shownSteps[Math.max(0, i - 1)] ?? a;
        b = shownSteps[Math.min(shownSteps.length - 1, j)] ?? b;
      }
      const kind = batchKind;
      feed.zoom(kind, Math.floor(a), Math.ceil(b)).then(
        (t) => {
          if (gen !== zoomGen || !t) return;
          zoomTable = t;
          queueRender();
        },
        (err: Error) => {
          if (gen === zoomGen) toast(`Could not load the zoomed range: ${err.message}`);
        },
      );
    }
    queueRender();
  }

  function setTool(s: Partial<ToolState>): void {
    Object.assign(tool, s);
    if (s.xMode) setZoom(null); // a range in the old units means nothing in the new ones
    charts.forEach((c) => c.setOptions({ smooth: tool.smooth, log: tool.log }));
    seenTable = null; // x values may change: give every chart its data again
    queueRender();
  }

  /** The x values of a table for the current x axis (batches: x = step; epochs: x = epoch). */
  function xValues(t: Table, view: ViewKind): { x: Num[]; steps: Num[] } {
    const steps = view === "epochs" ? (t.steps ?? t.x) : t.x;
    let x: Num[];
    switch (tool.xMode) {
      case "step":
        x = steps;
        break;
      case "epoch":
        if (view === "epochs") x = t.x;
        else {
          const et = epochTable;
          const ends = et ? et.x.map((e, i) => ({ epoch: e as number, step: (et.steps?.[i] ?? NaN) as number })) : [];
          x = stepsToEpochs(t.x, ends, info?.plan.steps ?? null);
        }
        break;
      case "relative": {
        const first = t.time.find((v) => v != null) ?? 0;
        const t0 = info?.createdMs != null ? Math.min(info.createdMs / 1000, first) : first;
        x = t.time.map((v) => (v == null ? null : v - t0));
        break;
      }
      case "wall":
        x = t.time;
        break;
    }
    // uPlot needs an x for every row, ascending: carry the previous one over gaps.
    if (x !== t.x && x.some((v) => v == null)) {
      let prev = 0;
      x = x.map((v) => (v == null ? prev : (prev = v)));
    }
    return { x, steps };
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
    let series: KindSeries | null = null;
    if (view === "epochs") {
      table = epochTable!;
      key = "epochs";
      xLabel = "epoch";
      kindTabs.hidden = true;
    } else {
      const kinds = [...data.batches.kinds.entries()].filter(([, s]) => s.pointCount > 0).map(([k]) => k);
      // Train first; another kind only while train has no points; system metrics only when
      // picked, or when nothing else is there (an epoch-only run's System view).
      if (!kindPicked || !batchKind || !kinds.includes(batchKind)) {
        batchKind = kinds.includes("train") ? "train" : (kinds.find((k) => k !== SYSTEM_KIND) ?? kinds[0] ?? "train");
      }
      feed?.showKind(batchKind);
      renderKindTabs(kinds);
      series = data.batches.kinds.get(batchKind) ?? null;
      table = series?.table ?? buildEpochTable([]);
      key = `batches:${batchKind}`;
      xLabel = batchKind === "train" ? "step" : `${batchKind} batch`;
    }
    data.changedKinds.clear();

    if (chartsFor !== key) {
      charts.forEach((c) => c.destroy());
      charts.clear();
      chartsFor = key;
      seenTable = null;
      zoomTable = null;
      zoom = null;
      zoomGen++;
      feed?.unzoom();
      tool.xMode = view === "epochs" ? "epoch" : "step";
      tools?.setXMode(tool.xMode);
      tools?.setZoomed(false);
    }
    if (!tools) {
      tools = buildTools(tool, setTool, () => setZoom(null));
      chartsBox.before(tools.el);
    }
    tools.el.hidden = table.x.length === 0;

    // Zoomed in on summaries: the finer data read for the range (else what the feed shows).
    const shown = zoomTable ?? table;
    if (tool.xMode !== "step") xLabel = tool.xMode === "epoch" ? "epoch" : tool.xMode === "relative" ? "time" : "";
    const groups = orderGroups(groupMetrics(shown.names));
    const changed = seenTable !== shown || seenVersion.get(key) !== shown.version;
    let x: Num[] = shownX;
    if (changed) {
      ({ x, steps: shownSteps } = xValues(shown, view));
      shownX = x;
    }
    const band = (name: string) => ({ lo: shown.lo?.get(name) ?? null, hi: shown.hi?.get(name) ?? null });
    const specs: { spec: ChartSpec; data: () => ChartInput }[] = groups.map((g) => ({
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
      data: () => ({
        x,
        series: [g.train, g.val].filter((n): n is string => !!n).map((n) => ({ values: shown.metrics.get(n) ?? [], ...band(n) })),
      }),
    }));
    if (shown.seconds.some((v) => v != null)) {
      specs.push({
        spec: {
          key: "time",
          title: view === "epochs" ? "Seconds per epoch" : "Seconds per batch",
          xLabel,
          syncKey: `tfw-${key}`,
          series: [{ label: "seconds", role: "time" }],
        },
        data: () => ({ x, series: [{ values: shown.seconds, ...band(SECONDS) }] }),
      });
    }

    const wanted = new Set(specs.map((s) => s.spec.key));
    for (const [k, c] of charts) {
      if (!wanted.has(k)) {
        c.destroy();
        charts.delete(k);
      }
    }
    seenTable = shown;
    seenVersion.set(key, shown.version);
    for (const s of specs) {
      const c = charts.get(s.spec.key);
      if (!c) {
        charts.set(s.spec.key, new Chart(chartsBox, s.spec, s.data(), { ...tool, range: zoom }, chartHooks));
      } else if (changed) {
        c.setData(s.data());
      }
    }
    // Keep DOM order = spec order (a new metric may arrive between existing ones).
    specs.forEach((s, i) => {
      const el = charts.get(s.spec.key)!.el;
      if (chartsBox.children[i] !== el) chartsBox.insertBefore(el, chartsBox.children[i] ?? null);
    });
    chartsBox.dataset.view = key;
    chartsBox.dataset.points = String(table.x.length);
    chartsBox.dataset.zoomed = zoomTable ? "data" : zoom ? "range" : "no";
    emptyCharts.hidden = table.x.length > 0;
    setText(emptyCharts, view === "epochs" && (data.batches.kinds.get("train")?.pointCount ?? 0) > 0
      ? `No epoch has finished yet — see ${batchBtn.textContent}.`
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
            kindPicked = true;
            queueRender();
          },
        }, k),
      ),
    );
  }

  function renderNotices(table: Table, series: KindSeries | null, view: ViewKind): void {
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
