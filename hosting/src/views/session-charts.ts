/**
 * The session page's charts panel: one chart per metric group (train and `val_` on the same
 * axes) plus seconds per epoch or batch, the batch kind tabs, the chart tools and the zoom
 * (docs/dashboard.md, "Long runs, zoom and chart tools"). The zoom range is in the x axis'
 * units; on the summary path a zoom reads finer data for it through the feed. What to show
 * comes from session-model; this panel keeps the charts and writes the DOM.
 */
import { Chart, buildTools, savedSmoothing, type ChartHooks, type ChartInput, type ChartSpec, type Tools, type ToolState } from "../charts";
import type { SessionData, SessionFeed } from "../data";
import { h, setText } from "../dom";
import { buildEpochTable } from "../epoch-table";
import { groupMetrics } from "../metric-groups";
import type { KindSeries, Num, Table } from "../series";
import type { SessionInfo } from "../status";
import { SECONDS, orderGroups } from "../summaries";
import { visibleText } from "../visible";
import { toast } from "./common";
import {
  badFrom, chooseBatchKind, emptyChartsText, kindsWithPoints, noticeLines, partialEpoch, xLabel, xValues, zoomChanges, zoomSteps,
  type ViewKind,
} from "./session-model";
import type { SessionShell } from "./session-shell";

/** What the panel reads from the page on each render. */
export interface ChartsPage {
  feed(): SessionFeed | null;
  /** The view shown now (session-model's chooseView, with the page's choices). */
  view(): ViewKind;
  queueRender(): void;
}

export interface ChartsPanel {
  render(data: SessionData, info: SessionInfo | null, epochTable: Table, view: ViewKind): void;
  restyle(): void;
  destroy(): void;
}

export function mountChartsPanel(shell: SessionShell, page: ChartsPage): ChartsPanel {
  const charts = new Map<string, Chart>();
  let chartsFor = ""; // "epochs" or "batches:train": what the charts show now
  const seenVersion = new Map<string, number>();
  let batchKind: string | null = null;
  let kindPicked = false; // a kind tab pressed on this page (else train, as soon as it has points)
  const tool: ToolState = { smooth: savedSmoothing(), log: false, xMode: "step" };
  let tools: Tools | null = null;
  let zoom: [number, number] | null = null;
  let zoomTable: Table | null = null;
  let zoomGen = 0;
  let shownX: Num[] = []; // x values of what is drawn, and the steps under them
  let shownSteps: Num[] = [];
  let seenTable: Table | null = null;
  let lastData: SessionData | null = null;
  const hooks: ChartHooks = {
    onZoom: (a, b) => setZoom([Math.min(a, b), Math.max(a, b)]),
    onZoomLive: (a, b) => charts.forEach((c) => c.uplot?.setScale("x", { min: a, max: b })),
    onReset: () => setZoom(null),
  };

  if (new URLSearchParams(location.search).has("debug")) {
    (window as unknown as { __tfwView: unknown }).__tfwView = { zoom: hooks.onZoom, reset: hooks.onReset, feed: () => page.feed() };
  }

  function restyle(): void {
    charts.forEach((c) => c.restyle());
  }

  function destroy(): void {
    charts.forEach((c) => c.destroy());
    charts.clear();
  }

  function setZoom(r: [number, number] | null): void {
    if (!zoomChanges(zoom, r)) return;
    const feed = page.feed();
    zoom = r;
    zoomTable = null;
    if (!r) feed?.unzoom();
    const gen = ++zoomGen;
    tools?.setZoomed(r != null);
    charts.forEach((c) => c.setOptions({ range: r }));
    if (r && feed && lastData && page.view() === "batches" && batchKind) {
      const [a, b] = zoomSteps(r, tool.xMode, shownX, shownSteps);
      feed.zoom(batchKind, a, b).then(
        (t) => {
          if (gen !== zoomGen || !t) return;
          zoomTable = t;
          page.queueRender();
        },
        (err: Error) => {
          if (gen === zoomGen) toast(`Could not load the zoomed range: ${err.message}`);
        },
      );
    }
    page.queueRender();
  }

  function setTool(s: Partial<ToolState>): void {
    Object.assign(tool, s);
    if (s.xMode) {
      setZoom(null); // a range in the old units means nothing in the new ones
      // New axes, axis titles and legend texts: the charts are made again in the new units.
      charts.forEach((c) => c.destroy());
      charts.clear();
    }
    charts.forEach((c) => c.setOptions({ smooth: tool.smooth, log: tool.log }));
    seenTable = null; // x values may change: give every chart its data again
    page.queueRender();
  }

  function render(data: SessionData, info: SessionInfo | null, epochTable: Table, view: ViewKind): void {
    lastData = data;
    const { chartsBox, emptyCharts, kindTabs, batchBtn } = shell;
    let table: Table;
    let key: string;
    let series: KindSeries | null = null;
    if (view === "epochs") {
      table = epochTable;
      key = "epochs";
      kindTabs.hidden = true;
    } else {
      const kinds = kindsWithPoints(data.batches.kinds, kindPicked ? batchKind : null);
      batchKind = chooseBatchKind(kinds, batchKind, kindPicked);
      page.feed()?.showKind(batchKind);
      renderKindTabs(kinds);
      series = data.batches.kinds.get(batchKind) ?? null;
      table = series?.table ?? buildEpochTable([]);
      key = `batches:${batchKind}`;
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
      page.feed()?.unzoom();
      tool.xMode = view === "epochs" ? "epoch" : "step";
      tools?.setXMode(tool.xMode);
      tools?.setZoomed(false);
    }
    if (!tools) {
      tools = buildTools(tool, (s) => setTool(s), () => setZoom(null));
      chartsBox.before(tools.el);
    }
    tools.el.hidden = table.x.length === 0;

    // Zoomed in on summaries: the finer data read for the range (else what the feed shows).
    const shown = zoomTable ?? table;
    const label = xLabel(view, batchKind, tool.xMode);
    const groups = orderGroups(groupMetrics(shown.names));
    const changed = seenTable !== shown || seenVersion.get(key) !== shown.version;
    let x: Num[] = shownX;
    if (changed) {
      ({ x, steps: shownSteps } = xValues(shown, view, tool.xMode, epochTable, info));
      shownX = x;
    }
    const band = (name: string) => ({
      lo: shown.lo?.get(name) ?? null, hi: shown.hi?.get(name) ?? null, ...badFrom(shown, name),
    });
    const partial = view === "epochs" && info ? partialEpoch(epochTable, info) : null;
    const specs: { spec: ChartSpec; data: () => ChartInput }[] = groups.map((g) => ({
      spec: {
        key: `m:${g.title}|${g.train ?? ""}|${g.val ?? ""}`,
        title: visibleText(g.title),
        xLabel: label,
        syncKey: `tfw-${key}`,
        partialX: partial?.epoch ?? null,
        series: [
          ...(g.train ? [{ label: visibleText(g.train), role: "train" as const }] : []),
          ...(g.val ? [{ label: visibleText(g.val), role: "val" as const }] : []),
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
          xLabel: label,
          syncKey: `tfw-${key}`,
          series: [{ label: "seconds", role: "time" }],
          clipFirst: view === "batches",
          partialX: partial?.epoch ?? null,
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
        charts.set(s.spec.key, new Chart(chartsBox, s.spec, s.data(), { ...tool, range: zoom }, hooks));
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
    setText(emptyCharts, emptyChartsText(view, data.batches.kinds.get("train")?.pointCount ?? 0, batchBtn.textContent));
    renderNotices(noticeLines(table, series, view, info?.nan === true, partial));
  }

  function renderKindTabs(kinds: string[]): void {
    const { kindTabs } = shell;
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
            page.queueRender();
          },
        }, k),
      ),
    );
  }

  function renderNotices(lines: string[]): void {
    const { notices } = shell;
    const sig = lines.join("\n");
    if (notices.dataset.sig === sig) return;
    notices.dataset.sig = sig;
    notices.replaceChildren(...lines.map((l) => h("p", { class: "notice" }, l)));
  }

  return { render, restyle, destroy };
}
