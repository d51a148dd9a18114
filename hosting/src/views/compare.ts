/**
 * `/compare?ids=a,b&x=step`: up to 5 sessions overlaid, one colour per run: one chart per metric
 * group (`x` and `val_x` together, validation dashed) in the session page's order, each with a
 * readout of every run's value at the crosshair; the session page's chart tools (smoothing,
 * log y, x axis, zoom); the config keys that differ between the runs. Aligned by epoch (epoch documents, or the epoch table of a schema-2 session) or, with
 * the toggle, by step (each session's train batch points: the raw chunks, or for schema 2 the
 * coarsest summary level that still has ~150+ buckets plus the raw tail; data.ts reads
 * either). Live: each session is read with the same listeners as its own page. The state
 * is the URL (shareable). A malformed ID or one that does not exist is marked in the list;
 * the others are still shown. Its own chunk, loaded on this route only.
 */
import "../compare-style.css";
import { buildTools, savedSmoothing, type ToolState, type Tools } from "../chart-tools";
import type { ChartHooks } from "../charts";
import { CompareChart, type CompareRun } from "../compare-chart";
import { configSection } from "../compare-config";
import { subscribeSession, type SessionData, type SessionFeed } from "../data";
import { getDb } from "../firebase";
import { h, setText } from "../dom";
import { buildEpochTable } from "../epoch-table";
import type { Table } from "../series";
import { displaySid } from "../sid";
import { visibleText } from "../visible";
import { sessionPath } from "../router";
import { STATUS_LABEL, effectiveStatus, lastActivityMs, parseSession, stallThresholdMs, type SessionInfo } from "../status";
import {
  MAX_COMPARE,
  RUN_COLORS,
  comparePath,
  parseCompareInput,
  parseCompareSearch,
  type Align,
  type CompareEntry,
  type RunSeries,
} from "../compare-model";
import { compareGroups, groupChartData, groupNames } from "../compare-series";
import { xLabel, xValues, zoomChanges } from "./session-model";

/** More charts than this would make a phone crawl: the rest are listed, not drawn. */
const MAX_CHARTS = 60;

interface Run {
  entry: CompareEntry & { sid: string };
  color: string;
  data: SessionData | null;
  feed: SessionFeed | null;
  epochs: Table | null;
  epochsVersion: number;
}

export function mountCompare(root: HTMLElement, navigate: (path: string, replace?: boolean) => void): () => void {
  const { ids, align: initialAlign } = parseCompareSearch(location.search);
  let align: Align = initialAlign;
  const entries = parseCompareInput(ids);
  let disposed = false;

  // ---- page ---------------------------------------------------------------------------------
  const input = h("textarea", {
    id: "compare-ids",
    rows: 2,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    placeholder: "IDs or links, separated by commas or spaces",
  });
  input.value = entries.map((e) => e.input).join(", ");
  const form = h(
    "form",
    { class: "card compare-form", novalidate: true },
    h("label", { for: "compare-ids" }, `Sessions to compare (up to ${MAX_COMPARE})`),
    input,
    h("button", { type: "submit" }, "Compare"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const list = parseCompareInput(input.value).map((x) => x.input);
    navigate(comparePath(list, align));
  });
  const legend = h("ul", { class: "compare-legend", "aria-label": "Runs" });
  const byEpoch = h("button", { type: "button", "data-align": "epoch" }, "By epoch");
  const byStep = h("button", { type: "button", "data-align": "step" }, "By step");
  const alignBar = h("div", { class: "kind-tabs align-tabs", role: "group", "aria-label": "Align runs" }, byEpoch, byStep);
  const empty = h("p", { class: "muted empty-charts" }, "Loading…");
  const chartsBox = h("section", { class: "charts compare-charts", "aria-label": "Charts", "data-align": align });
  const more = h("p", { class: "muted", hidden: true });
  const configBox = h("div", { class: "compare-config-box" });
  // The session page's chart tools; the x axis starts as the alignment's own (epoch or step).
  const tool: ToolState = { smooth: savedSmoothing(), log: false, xMode: align };
  const tools: Tools = buildTools(tool, (s) => setTool(s), () => setZoom(null));
  const main = h(
    "main",
    { class: "compare" },
    h("h1", {}, "Compare runs"),
    form,
    legend,
    alignBar,
    tools.el,
    empty,
    chartsBox,
    more,
    configBox,
  );
  root.replaceChildren(main);
  document.title = "Compare runs · TF Watcher";

  for (const b of [byEpoch, byStep]) {
    b.addEventListener("click", () => {
      const a = b.dataset.align as Align;
      if (a === align) return;
      align = a;
      history.replaceState(null, "", comparePath(entries.map((e) => e.input), align));
      tool.xMode = align;
      tools.setXMode(align);
      setZoom(null);
      resetCharts();
      queueRender();
    });
  }

  // ---- data ---------------------------------------------------------------------------------
  const runs: Run[] = [];
  for (const e of entries) {
    if (e.sid == null || e.problem) continue;
    runs.push({ entry: e as Run["entry"], color: RUN_COLORS[runs.length % RUN_COLORS.length], data: null, feed: null, epochs: null, epochsVersion: -1 });
  }
  if (runs.length) {
    getDb()
      .then((db) => {
        if (disposed) return;
        for (const r of runs) {
          r.feed = subscribeSession(db, r.entry.sid, (d) => {
            r.data = d;
            queueRender();
          });
        }
      })
      .catch((err: Error) => {
        if (disposed) return;
        setText(empty, `Can't reach the database: ${err.message}`);
      });
  }

  // ---- drawing ------------------------------------------------------------------------------
  const charts = new Map<string, { chart: CompareChart; sig: string }>();
  let shape = ""; // which runs the charts have series for
  let renderTimer = 0;
  let lastRender = 0;
  let zoom: [number, number] | null = null;
  const hooks: ChartHooks = {
    onZoom: (a, b) => setZoom([Math.min(a, b), Math.max(a, b)]),
    onZoomLive: (a, b) => charts.forEach((c) => c.chart.setLiveRange(a, b)),
    onReset: () => setZoom(null),
  };

  function setZoom(r: [number, number] | null): void {
    if (!zoomChanges(zoom, r)) return;
    zoom = r;
    tools.setZoomed(r != null);
    charts.forEach((c) => c.chart.setRange(r));
  }

  function setTool(s: Partial<ToolState>): void {
    Object.assign(tool, s);
    if (s.xMode) setZoom(null); // a range in the old units means nothing in the new ones
    queueRender();
  }

  function queueRender(): void {
    if (renderTimer || disposed) return;
    // At most every 400 ms: five live sessions can send many snapshots a second.
    const wait = Math.max(0, 400 - (performance.now() - lastRender));
    renderTimer = window.setTimeout(() => {
      renderTimer = 0;
      lastRender = performance.now();
      render();
    }, wait);
  }

  function resetCharts(): void {
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    chartsBox.replaceChildren();
    shape = "";
  }

  function runState(r: Run): { state: string; label: string; name: string; info: SessionInfo | null } {
    const d = r.data;
    if (!d || d.state === "loading") return { state: "loading", label: "loading…", name: "", info: null };
    if (d.state === "missing") return { state: "missing", label: "not found", name: "", info: null };
    if (d.state === "denied" && !d.session) return { state: "denied", label: "permission denied", name: "", info: null };
    if (d.state === "error" && !d.session) return { state: "error", label: d.errorMessage || "error", name: "", info: null };
    const info = parseSession(d.session ?? {});
    const lastTime = (t: Table | null | undefined) => {
      const v = t?.time;
      return v && v.length ? v[v.length - 1] : null;
    };
    const last = lastActivityMs(info.heartbeatMs, lastTime(r.epochs), lastTime(d.batches.kinds.get("train")?.table));
    const st = effectiveStatus(info.status, last, Date.now(), stallThresholdMs(info));
    return { state: "ok", label: STATUS_LABEL[st], name: info.name, info };
  }

  function renderLegend(): void {
    const items: HTMLElement[] = [];
    let i = 0;
    for (const e of entries) {
      if (e.sid == null || e.problem) {
        items.push(
          h(
            "li",
            { "data-state": e.sid == null ? "malformed" : "skipped" },
            h("span", { class: "swatch none", "aria-hidden": "true" }),
            h("span", { class: "run-label" }, h("span", { class: "sid" }, e.sid ? displaySid(e.sid) : e.input)),
            h("span", { class: "run-problem" }, e.problem ?? ""),
          ),
        );
        continue;
      }
      const r = runs[i++];
      const s = runState(r);
      const swatch = h("span", { class: s.state === "ok" ? "swatch" : "swatch none", "aria-hidden": "true" });
      if (s.state === "ok") swatch.style.background = r.color;
      items.push(
        h(
          "li",
          { "data-sid": r.entry.sid, "data-state": s.state },
          swatch,
          h(
            "span",
            { class: "run-label" },
            s.name ? h("span", { class: "run-name clamp", title: s.name }, s.name) : null,
            h("a", { href: sessionPath(r.entry.sid), "data-link": true, class: "sid" }, displaySid(r.entry.sid)),
          ),
          h("span", { class: s.state === "ok" ? "muted run-status" : "run-problem" }, s.label),
        ),
      );
    }
    const sig = items.map((x) => x.textContent + "|" + x.dataset.state).join("\n");
    if (legend.dataset.sig !== sig) {
      legend.dataset.sig = sig;
      legend.replaceChildren(...items);
    }
  }

  function epochTable(r: Run, d: SessionData): Table {
    if (r.epochsVersion !== d.epochsVersion || !r.epochs) {
      r.epochs = buildEpochTable(d.epochs.values());
      r.epochsVersion = d.epochsVersion;
    }
    return r.epochs;
  }

  /** A run's series as aligned now: its epoch table or train batches, on the x axis chosen in the tools. */
  function seriesOf(r: Run): RunSeries {
    const d = r.data;
    if (!d || !d.session) return { x: [], metrics: new Map(), names: [] };
    const epochs = epochTable(r, d);
    const t = align === "epoch" ? epochs : d.batches.kinds.get("train")?.table;
    if (!t) return { x: [], metrics: new Map(), names: [] };
    const info = parseSession(d.session);
    const { x } = xValues(t, align === "epoch" ? "epochs" : "batches", tool.xMode, epochs, info);
    return { x: x as number[], metrics: t.metrics, names: t.names };
  }

  function render(): void {
    if (disposed) return;
    byEpoch.setAttribute("aria-pressed", String(align === "epoch"));
    byStep.setAttribute("aria-pressed", String(align === "step"));
    chartsBox.dataset.align = align;
    renderLegend();
    if (!runs.length) {
      setText(empty, entries.length ? "None of these is a session ID." : "Enter two or more session IDs, or pick sessions on the home screen.");
      empty.hidden = false;
      tools.el.hidden = true;
      resetCharts();
      return;
    }
    // Charts have one series per run that exists (not found, denied or loading: none).
    const drawn = runs.filter((r) => r.data?.session && r.data.state !== "missing");
    const series = drawn.map(seriesOf);
    const groups = compareGroups(series);
    const shown = groups.slice(0, MAX_CHARTS);
    const sig = drawn.map((r) => r.entry.sid).join(",") + "|" + align;
    if (sig !== shape) {
      resetCharts();
      shape = sig;
    }
    const meta: CompareRun[] = drawn.map((r) => ({ sid: r.entry.sid, color: r.color, label: runLabel(r) }));
    const label = xLabel(align === "epoch" ? "epochs" : "batches", "train", tool.xMode);
    const wanted = new Set(shown.map((g) => g.title));
    for (const [k, c] of charts) {
      if (!wanted.has(k)) {
        c.chart.destroy();
        charts.delete(k);
      }
    }
    shown.forEach((g, i) => {
      const names = groupNames(g);
      const d = groupChartData(series, names, tool);
      // A new layout (a run's name, smoothing on or off, log, x axis) makes a new chart.
      const layout = JSON.stringify([names, meta, tool.smooth > 0, tool.log, tool.xMode]);
      let c = charts.get(g.title);
      if (c && c.sig !== layout) {
        c.chart.destroy();
        c = undefined;
      }
      if (!c) {
        const chart = new CompareChart(chartsBox, {
          title: g.title,
          names: names.map((n) => ({ name: visibleText(n), val: n === g.val })),
          runs: meta,
          xLabel: label,
          xMode: tool.xMode,
          log: tool.log,
          syncKey: `tfw-compare-${align}`,
        }, d, zoom, hooks);
        c = { chart, sig: layout };
        charts.set(g.title, c);
      } else {
        c.chart.setData(d);
      }
      if (chartsBox.children[i] !== c.chart.el) chartsBox.insertBefore(c.chart.el, chartsBox.children[i] ?? null);
    });
    const loading = runs.some((r) => !r.data || r.data.state === "loading");
    empty.hidden = shown.length > 0;
    tools.el.hidden = shown.length === 0;
    setText(empty, loading ? "Loading…" : align === "epoch" ? "No epoch has finished in these runs yet." : "No train batch points in these runs yet.");
    more.hidden = groups.length <= MAX_CHARTS;
    setText(more, `Showing ${MAX_CHARTS} of ${groups.length} charts.`);
    renderConfig(drawn, meta);
  }

  function runLabel(r: Run): string {
    return runState(r).name || displaySid(r.entry.sid);
  }

  /** The config keys that differ between the runs shown, the rest folded. */
  function renderConfig(drawn: Run[], meta: CompareRun[]): void {
    const configs = drawn.map((r) => runState(r).info?.config ?? []);
    const sig = JSON.stringify([meta, configs]);
    if (configBox.dataset.sig === sig) return;
    configBox.dataset.sig = sig;
    const section = drawn.length ? configSection(meta, configs) : null;
    configBox.replaceChildren(...(section ? [section] : []));
  }

  const ro = new ResizeObserver(() => {
    for (const c of charts.values()) c.chart.resize();
  });
  ro.observe(chartsBox);
  const tick = window.setInterval(() => renderLegend(), 5000); // stalled runs turn "Stalled"
  render();

  return () => {
    disposed = true;
    window.clearTimeout(renderTimer);
    window.clearInterval(tick);
    ro.disconnect();
    for (const r of runs) r.feed?.stop();
    resetCharts();
  };
}
