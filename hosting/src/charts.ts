/**
 * uPlot wrapper: a chart is made once, then `setData()` as data streams in (at most once per
 * animation frame, whatever the snapshot rate), `setSize()` when its box resizes, `destroy()`
 * when the view leaves. Cursors are linked across the charts of a view with `uPlot.sync`.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import type { Num } from "./series";

export type SeriesRole = "train" | "val" | "time";

export interface ChartSpec {
  /** Stable identity within a view (e.g. "m:loss", "time"). */
  key: string;
  title: string;
  xLabel: string;
  series: { label: string; role: SeriesRole }[];
  syncKey: string;
}

const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function chartHeight(): number {
  return window.innerWidth < 600 ? 170 : 220;
}

function compact(v: number): string {
  if (v == null || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

// `?debug` in the URL exposes live charts as `window.__tfwCharts` (bench/dashboard uses it).
const registry: Set<Chart> | null =
  typeof location !== "undefined" && new URLSearchParams(location.search).has("debug") ? new Set() : null;
if (registry) (window as unknown as { __tfwCharts: Set<Chart> }).__tfwCharts = registry;
let firstDrawMarked = false;

/** `performance.mark("tfw:first-chart")` once, when the first chart with points is drawn. */
function markFirstDraw(points: number): void {
  if (firstDrawMarked || points === 0) return;
  firstDrawMarked = true;
  performance.mark("tfw:first-chart");
}

// One animation frame flushes every chart that received data since the last frame.
const dirty = new Set<Chart>();
let frame = 0;

function flush(): void {
  frame = 0;
  const list = [...dirty];
  dirty.clear();
  for (const c of list) c.drawNow();
}

export class Chart {
  readonly el: HTMLElement;
  readonly spec: ChartSpec;
  private plotBox: HTMLElement;
  private plot: uPlot | null = null;
  private pending: Num[][] | null = null;
  private data: Num[][];
  private ro: ResizeObserver | null = null;
  private width = 0;

  constructor(parent: HTMLElement, spec: ChartSpec, data: Num[][]) {
    this.spec = spec;
    this.data = data;
    this.plotBox = h("div", { class: "plot" });
    this.el = h(
      "figure",
      { class: "chart", "data-chart": spec.key, "data-points": String(data[0]?.length ?? 0) },
      h("figcaption", {}, spec.title),
      this.plotBox,
    );
    parent.appendChild(this.el);
    this.create();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.plotBox);
    registry?.add(this);
    markFirstDraw(data[0]?.length ?? 0);
  }

  private create(): void {
    const train = cssVar("--c-train", "#1a73e8");
    const val = cssVar("--c-val", "#e8710a");
    const time = cssVar("--c-time", "#188038");
    const axis = cssVar("--fg-muted", "#5f6368");
    const grid = cssVar("--grid", "rgba(0,0,0,0.08)");
    const colors: Record<SeriesRole, string> = { train, val, time };
    this.width = Math.max(200, Math.floor(this.plotBox.clientWidth || 320));
    const axisBase = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: this.width,
      height: chartHeight(),
      pxAlign: 0,
      cursor: { sync: { key: uPlot.sync(this.spec.syncKey).key, setSeries: true }, drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: false } },
      axes: [
        { ...axisBase, incrs: INTEGER_INCRS, label: this.spec.xLabel, labelSize: 18, size: 36 },
        { ...axisBase, size: 52, values: (_u, vals) => vals.map(compact) },
      ],
      series: [
        { label: this.spec.xLabel },
        ...this.spec.series.map((s) => ({
          label: s.label,
          stroke: colors[s.role],
          width: 1.5,
          spanGaps: false,
          dash: s.role === "val" ? [6, 3] : undefined,
          points: { show: (u: uPlot) => (u.data[0]?.length ?? 0) <= 60, size: 5 },
          value: (_u: uPlot, v: number | null) => (v == null ? "—" : compact(v)),
        })),
      ],
    };
    this.plot = new uPlot(opts, this.data as uPlot.AlignedData, this.plotBox);
  }

  /** Queue new data; it is drawn on the next animation frame. */
  setData(data: Num[][]): void {
    this.pending = data;
    dirty.add(this);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  /** Apply queued data now (the frame callback, and the benchmark). */
  drawNow(): void {
    if (!this.pending || !this.plot) return;
    this.data = this.pending;
    this.pending = null;
    this.plot.setData(this.data as uPlot.AlignedData);
    this.el.setAttribute("data-points", String(this.data[0]?.length ?? 0));
    markFirstDraw(this.data[0]?.length ?? 0);
  }

  /**
   * setData and draw synchronously (uPlot's batch() commits at its end), returning the
   * milliseconds it took. For the benchmark; the app goes through setData()'s frame throttle.
   */
  timedSetData(data: Num[][]): number {
    const t0 = performance.now();
    this.data = data;
    this.pending = null;
    this.plot?.batch(() => this.plot!.setData(data as uPlot.AlignedData));
    return performance.now() - t0;
  }

  /** Force a full redraw with the same data (benchmark: setData + draw, synchronously). */
  redraw(): void {
    this.plot?.redraw(false, true);
  }

  private resize(): void {
    const w = Math.max(200, Math.floor(this.plotBox.clientWidth));
    if (!this.plot || w === this.width) return;
    this.width = w;
    this.plot.setSize({ width: w, height: chartHeight() });
  }

  /** Re-create with the current theme colours (dark mode switched). */
  restyle(): void {
    this.drawNow();
    this.plot?.destroy();
    this.create();
  }

  destroy(): void {
    dirty.delete(this);
    registry?.delete(this);
    this.ro?.disconnect();
    this.ro = null;
    this.plot?.destroy();
    this.plot = null;
    this.el.remove();
  }

  get uplot(): uPlot | null {
    return this.plot;
  }
}
