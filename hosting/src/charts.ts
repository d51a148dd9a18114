/**
 * uPlot wrapper: a chart is made once, then `setData()` as data streams in (at most once per
 * animation frame, whatever the snapshot rate), `setSize()` when its box resizes, `destroy()`
 * when the view leaves. Cursors are linked across the charts of a view with `uPlot.sync`.
 *
 * Summarised data (schema 2) is drawn as a line (each bucket's last value) over a faint
 * min/max band, so a one-step spike shows unzoomed. Smoothing draws the EMA over the faint raw
 * line; log scale turns non-positive values into gaps. The view owns the x range (zoom): a
 * drag-select (mouse), pinch or one-finger pan (touch) reports it through `hooks`.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import { ema } from "./ema";
import type { Num } from "./series";

import { xAxis, xText, yAxis, rangeWithoutFirst } from "./chart-axes";
import { chartHeight, compact, cssVar, duration, lastValue, middleCut, positive, withAlpha } from "./chart-format";
import { bindTouch } from "./chart-touch";
import { downloadPng } from "./chart-png";
export { buildTools, savedSmoothing, X_LABELS, type ToolState, type Tools } from "./chart-tools";
export { duration, withAlpha } from "./chart-format";

export type SeriesRole = "train" | "val" | "time";
export type XMode = "step" | "epoch" | "relative" | "wall";

export interface ChartSpec {
  /** Stable identity within a view (e.g. "m:loss", "time"). */
  key: string;
  title: string;
  xLabel: string;
  series: { label: string; role: SeriesRole }[];
  syncKey: string;
  /** Seconds per batch: a first point that dwarfs the rest (compiling) is left off the y scale. */
  clipFirst?: boolean;
  /** Epoch x of a partial epoch (a stopped run's last): the legend says "(partial)". */
  partialX?: number | null;
}

/** One logical series: its values and, for summarised data, the band edges. */
export interface SeriesInput {
  values: Num[];
  lo?: Num[] | null;
  hi?: Num[] | null;
  /** Index of the first non-finite value (drawn as a gap): from there a gap reads `badText`. */
  badFrom?: number | null;
  badText?: string;
}
export interface ChartInput {
  x: Num[];
  series: SeriesInput[];
}
export interface ChartOptions {
  smooth: number;
  log: boolean;
  xMode: XMode;
  /** Visible x range, in the x axis' units; null = everything. */
  range: [number, number] | null;
}
export interface ChartHooks {
  /** A finished zoom gesture (drag-select, pinch, pan): the view sets it on every chart. */
  onZoom(a: number, b: number): void;
  /** While a touch gesture moves (no data is fetched). */
  onZoomLive?(a: number, b: number): void;
  onReset(): void;
}

/** What each uPlot series (after x) is: a line, the faint raw line behind a smoothed one, or a band edge. */
export type Slot = { kind: "line" | "raw" | "hi" | "lo"; of: number };

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
  private pending: ChartInput | null = null;
  private input: ChartInput;
  private opts: ChartOptions;
  private shape = "";
  /** uPlot series 1.. in order. */
  slots: Slot[] = [];
  private ro: ResizeObserver | null = null;
  private width = 0;
  private hooks: ChartHooks | null;
  private untouch: (() => void) | null = null;
  private note: HTMLElement;

  constructor(parent: HTMLElement, spec: ChartSpec, input: ChartInput | Num[][], opts?: Partial<ChartOptions>, hooks?: ChartHooks) {
    this.spec = spec;
    this.input = toInput(input);
    this.opts = { smooth: 0, log: false, xMode: "step", range: null, ...opts };
    this.hooks = hooks ?? null;
    this.plotBox = h("div", { class: "plot" });
    this.note = h("small", { class: "chart-note", hidden: true });
    const png = h("button", { type: "button", class: "chart-png", "aria-label": `Download ${spec.title} as PNG`, title: "Download PNG" }, "PNG");
    png.addEventListener("click", () => void this.downloadPng());
    this.el = h(
      "figure",
      { class: "chart", "data-chart": spec.key, "data-points": String(this.input.x.length) },
      h("figcaption", {}, h("span", {}, spec.title), this.note, png),
      this.plotBox,
    );
    parent.appendChild(this.el);
    this.create();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.plotBox);
    registry?.add(this);
    markFirstDraw(this.input.x.length);
  }

  private shapeOf(input: ChartInput, o: ChartOptions): string {
    return [input.series.map((s) => (s.lo && s.hi ? "b" : "-")).join(""), o.smooth > 0, o.log, o.xMode].join("|");
  }

  private create(): void {
    const train = cssVar("--c-train", "#1a73e8");
    const val = cssVar("--c-val", "#e8710a");
    const time = cssVar("--c-time", "#188038");
    const axis = cssVar("--fg-muted", "#5f6368");
    const grid = cssVar("--grid", "rgba(0,0,0,0.08)");
    const colors: Record<SeriesRole, string> = { train, val, time };
    const o = this.opts;
    this.shape = this.shapeOf(this.input, o);
    this.width = Math.max(200, Math.floor(this.plotBox.clientWidth || 320));
    const axisBase = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const value = (_u: uPlot, v: number | null, sidx: number, idx: number | null) => {
      const vals = this.plot?.data[sidx] as Num[] | undefined;
      const at = idx ?? (vals ? vals.length - 1 : -1);
      // A gap after the series went NaN/Inf is that value, not the last finite one.
      const input = this.input.series[this.slots[sidx - 1]?.of ?? -1];
      if ((idx == null ? vals?.[at] : v) == null && input?.badFrom != null && at >= input.badFrom) return input.badText ?? "NaN";
      // Not hovering: the latest value, not a dash.
      const shown = idx == null ? lastValue(vals) : v;
      return shown == null ? "—" : compact(shown);
    };
    const series: uPlot.Series[] = [{ label: this.spec.xLabel }];
    const bands: uPlot.Band[] = [];
    this.slots = [];
    this.input.series.forEach((s, i) => {
      const meta = this.spec.series[i] ?? { label: `series ${i + 1}`, role: "train" as const };
      const color = colors[meta.role];
      const dash = meta.role === "val" ? [6, 3] : undefined;
      if (s.lo && s.hi) {
        // Edges drawn faintly as well: a one-bucket spike is a sliver of fill, but a visible line.
        const edge = { label: `${meta.label} max`, stroke: withAlpha(color, 0.4), width: 1, points: { show: false }, spanGaps: false, value };
        series.push({ ...edge }, { ...edge, label: `${meta.label} min` });
        this.slots.push({ kind: "hi", of: i }, { kind: "lo", of: i });
        bands.push({ series: [series.length - 2, series.length - 1], fill: withAlpha(color, 0.18) });
      }
      const line = {
        label: middleCut(meta.label),
        stroke: color,
        width: 1.5,
        spanGaps: false,
        dash,
        points: { show: (u: uPlot) => (u.data[0]?.length ?? 0) <= 60, size: 5 },
        value,
      };
      if (o.smooth > 0) {
        series.push({ ...line, label: `${line.label} raw`, stroke: withAlpha(color, 0.3), width: 1 });
        this.slots.push({ kind: "raw", of: i });
      }
      series.push(line);
      this.slots.push({ kind: "line", of: i });
    });
    const fmtX = xText(o.xMode, this.spec.partialX ?? null);
    const lineIdx = series.findIndex((_s, i) => i > 0 && this.slots[i - 1]?.kind === "line");
    const yRange: uPlot.Range.Function = (u, min, max) =>
      (this.spec.clipFirst && !o.log ? rangeWithoutFirst(u.data[lineIdx] as Num[]) : null) ?? uPlot.rangeNum(min, max, 0.1, true);
    // The x legend too: the latest row when not hovering.
    series[0].value = (_u, v, _s, idx) => {
      const shown = idx == null ? lastValue(this.plot?.data[0] as Num[] | undefined) : v;
      return shown == null ? "—" : fmtX(shown);
    };
    const opts: uPlot.Options = {
      width: this.width,
      height: chartHeight(),
      pxAlign: 0,
      cursor: {
        sync: { key: uPlot.sync(this.spec.syncKey).key, setSeries: true },
        drag: { x: true, y: false, setScale: false },
        bind: {
          // Double-click resets the zoom of the whole view (not just this chart's scale).
          dblclick: () => (e: MouseEvent) => {
            if (e.button === 0) this.hooks?.onReset();
            return null;
          },
        },
      },
      legend: { live: true },
      scales: { x: { time: o.xMode === "wall" }, y: o.log ? { distr: 3, log: 10 } : { range: yRange } },
      axes: [xAxis(o.xMode, this.spec.xLabel, axisBase), yAxis(axisBase)],
      series,
      bands,
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4 || !this.hooks) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.hooks.onZoom(a, b);
          },
        ],
      },
    };
    this.plot = new uPlot(opts, this.aligned(), this.plotBox);
    this.plot.setLegend({}); // now that `this.plot` is set, the legend can show the latest values
    // Edge and raw series stay out of the legend: it lists the lines only.
    const rows = this.plot.root.querySelectorAll<HTMLElement>(".u-legend .u-series");
    this.slots.forEach((s, i) => {
      if (s.kind !== "line" && rows[i + 1]) rows[i + 1].hidden = true;
      // Names are cut in the middle in the legend: the whole name on a long press (title).
      else if (rows[i + 1]) rows[i + 1].title = this.spec.series[s.of]?.label ?? "";
    });
    this.updateNote();
    this.applyRange(false);
    this.untouch?.();
    this.untouch = bindTouch(this.plot, () => this.hooks, () => this.opts.range != null);
  }

  /** uPlot's data for the current input and options (smoothing and log applied). */
  private aligned(): uPlot.AlignedData {
    const o = this.opts;
    const tr = o.log ? positive : (v: Num[]) => v;
    const out: Num[][] = [this.input.x];
    this.input.series.forEach((s, i) => {
      const vals = tr(s.values ?? []);
      for (const slot of this.slots) {
        if (slot.of !== i) continue;
        if (slot.kind === "hi") out.push(tr(s.hi ?? []));
        else if (slot.kind === "lo") out.push(tr(s.lo ?? []));
        else if (slot.kind === "raw") out.push(vals);
        else out.push(o.smooth > 0 ? ema(vals, o.smooth) : vals);
      }
    });
    return out as uPlot.AlignedData;
  }

  private applyRange(redraw = true): void {
    const u = this.plot;
    if (!u) return;
    const r = this.opts.range;
    if (r) u.setScale("x", { min: r[0], max: r[1] });
    else if (redraw) {
      const x = u.data[0];
      if (x.length) u.setScale("x", { min: x[0] as number, max: x[x.length - 1] as number });
    }
  }

  /** Queue new data; it is drawn on the next animation frame. */
  setData(input: ChartInput | Num[][]): void {
    this.pending = toInput(input);
    dirty.add(this);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  /** Smoothing, log scale, x axis, range: re-created when the series layout changes. */
  setOptions(o: Partial<ChartOptions>): void {
    const before = this.opts;
    this.opts = { ...before, ...o };
    if (this.pending) {
      this.input = this.pending;
      this.pending = null;
    }
    if (this.shapeOf(this.input, this.opts) !== this.shape) {
      this.plot?.destroy();
      this.create();
    } else if (before.smooth !== this.opts.smooth) {
      this.plot?.setData(this.aligned(), !this.opts.range);
      this.applyRange();
    } else if (before.range?.[0] !== this.opts.range?.[0] || before.range?.[1] !== this.opts.range?.[1]) {
      this.applyRange();
    }
  }

  get options(): ChartOptions {
    return this.opts;
  }

  /** Apply queued data now (the frame callback, and the benchmark). */
  drawNow(): void {
    if (!this.pending || !this.plot) return;
    this.input = this.pending;
    this.pending = null;
    if (this.shapeOf(this.input, this.opts) !== this.shape) {
      this.plot.destroy();
      this.create();
    } else {
      const u = this.plot;
      u.batch(() => {
        u.setData(this.aligned(), !this.opts.range);
        this.applyRange(false);
        u.setLegend({});
      });
    }
    this.el.setAttribute("data-points", String(this.input.x.length));
    this.updateNote();
    markFirstDraw(this.input.x.length);
  }

  /** Says when the first point is left off the y scale (clipFirst). */
  private updateNote(): void {
    const first = this.input.series[0]?.values[0];
    const clipped = !!this.spec.clipFirst && !this.opts.log && rangeWithoutFirst(this.input.series[0]?.values ?? []) != null;
    this.note.hidden = !clipped;
    const text = clipped && first != null ? `first: ${duration(first)}, off the scale` : "";
    if (this.note.textContent !== text) this.note.textContent = text;
  }

  /**
   * setData and draw synchronously (uPlot's batch() commits at its end), returning the
   * milliseconds it took. For the benchmark; the app goes through setData()'s frame throttle.
   */
  timedSetData(data: Num[][]): number {
    const t0 = performance.now();
    this.pending = null;
    this.plot?.batch(() => this.plot!.setData(data as uPlot.AlignedData));
    return performance.now() - t0;
  }

  /** Force a full redraw with the same data (benchmark: setData + draw, synchronously). */
  redraw(): void {
    this.plot?.redraw(false, true);
  }

  /** uPlot series index (1-based) of a slot, or -1. */
  seriesIndex(kind: Slot["kind"], of = 0): number {
    const i = this.slots.findIndex((s) => s.kind === kind && s.of === of);
    return i < 0 ? -1 : i + 1;
  }

  /** The chart as a PNG file: title and plot on the page's background. */
  downloadPng(): Promise<Blob | null> {
    return this.plot ? downloadPng(this.plot, this.spec.title) : Promise.resolve(null);
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
    this.untouch?.();
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

/** Plain uPlot-style arrays ([x, y1, y2…]) are accepted too. */
function toInput(d: ChartInput | Num[][]): ChartInput {
  if (Array.isArray(d)) return { x: d[0] ?? [], series: d.slice(1).map((values) => ({ values })) };
  return d;
}
