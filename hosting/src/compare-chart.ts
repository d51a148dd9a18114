/**
 * One chart of the compare page: a metric group (`x` and `val_x`) for every run, one colour
 * per run, validation dashed; a readout under it lists each run's value at the crosshair (the
 * latest values when there is none), so a tap on a phone shows the numbers. Zoom (drag-select,
 * pinch, pan) is reported through `hooks`: the page sets the range on every chart. A chart is
 * made for one layout (runs, names, smoothing on or off, log, x mode); the page makes a new one
 * when that changes and calls `setData` otherwise.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartHooks, XMode } from "./charts";
import { xAxis, xText, yAxis } from "./chart-axes";
import { chartHeight, cssVar, withAlpha } from "./chart-format";
import { bindTouch } from "./chart-touch";
import type { Aligned } from "./compare-model";
import { readoutTexts, type CompareSlot } from "./compare-series";
import { h, setText } from "./dom";

export interface CompareRun {
  sid: string;
  label: string;
  color: string;
}

export interface CompareChartSpec {
  /** The group's title (`loss` for loss and val_loss). */
  title: string;
  /** The names drawn, train first; `val` marks a validation twin (dashed). */
  names: { name: string; val: boolean }[];
  runs: CompareRun[];
  xLabel: string;
  xMode: XMode;
  log: boolean;
  syncKey: string;
}

export class CompareChart {
  readonly el: HTMLElement;
  readonly spec: CompareChartSpec;
  private box: HTMLElement;
  private readout: HTMLElement;
  private xCell: HTMLElement;
  private cells: HTMLElement[][] = [];
  private plot: uPlot;
  private lines: Aligned;
  private range: [number, number] | null;
  private untouch: () => void;

  constructor(parent: HTMLElement, spec: CompareChartSpec, d: { data: Aligned; slots: CompareSlot[]; lines: Aligned },
    range: [number, number] | null, hooks: ChartHooks) {
    this.spec = spec;
    this.lines = d.lines;
    this.range = range;
    this.box = h("div", { class: "plot" });
    this.xCell = h("span", { class: "readout-x" });
    this.readout = this.buildReadout();
    this.el = h(
      "figure",
      { class: "chart", "data-compare-chart": spec.title, "data-runs": String(spec.runs.length) },
      h("figcaption", {}, h("span", { class: "clamp", title: spec.title }, spec.title)),
      this.box,
      this.readout,
    );
    parent.appendChild(this.el);
    const axis = cssVar("--fg-muted", "#5f6368");
    const grid = cssVar("--grid", "rgba(0,0,0,0.08)");
    const axisBase = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const few = d.data[0].length <= 40;
    const series: uPlot.Series[] = [{}];
    for (const s of d.slots) {
      const run = spec.runs[s.run];
      const val = spec.names[s.name]?.val ?? false;
      const color = val ? withAlpha(run.color, 0.8) : run.color;
      series.push(
        s.kind === "raw"
          ? { stroke: withAlpha(run.color, 0.25), width: 1, dash: val ? [6, 3] : undefined, points: { show: false } }
          : { stroke: color, width: 1.5, dash: val ? [6, 3] : undefined, points: { show: few, size: 5, fill: color } },
      );
    }
    this.plot = new uPlot(
      {
        width: Math.max(200, Math.floor(this.box.clientWidth || 320)),
        height: chartHeight(),
        pxAlign: 0,
        legend: { show: false },
        cursor: {
          sync: { key: uPlot.sync(spec.syncKey).key },
          drag: { x: true, y: false, setScale: false },
          bind: {
            // Double-click resets the zoom of the whole page.
            dblclick: () => (e: MouseEvent) => {
              if (e.button === 0) hooks.onReset();
              return null;
            },
          },
        },
        scales: { x: { time: spec.xMode === "wall" }, y: spec.log ? { distr: 3, log: 10 } : {} },
        axes: [xAxis(spec.xMode, spec.xLabel, axisBase), yAxis(axisBase)],
        series,
        hooks: {
          setCursor: [(u) => this.showAt(u.cursor.idx ?? null)],
          // The x range shown, in the axis' units (the ticks are drawn on the canvas): for tests and tools.
          setScale: [
            (u, key) => {
              const { min, max } = u.scales.x;
              if (key === "x" && min != null && max != null) this.el.dataset.xRange = `${xText(spec.xMode)(min)} – ${xText(spec.xMode)(max)}`;
            },
          ],
          setSelect: [
            (u) => {
              if (u.select.width < 4) return;
              const a = u.posToVal(u.select.left, "x");
              const b = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              hooks.onZoom(a, b);
            },
          ],
        },
      },
      d.data as uPlot.AlignedData,
      this.box,
    );
    this.applyRange();
    this.untouch = bindTouch(this.plot, () => hooks, () => this.range != null);
    this.setPoints(d);
    this.showAt(null);
  }

  /** The readout: a row per run (swatch, name, a value per drawn name), the x at the crosshair above. */
  private buildReadout(): HTMLElement {
    const { names, runs } = this.spec;
    const head = h(
      "tr",
      {},
      h("th", { scope: "col" }, this.xCell),
      ...names.map((n) =>
        h("th", { scope: "col", class: "num", "data-val": String(n.val) },
          h("span", { class: n.val ? "line-sample dashed" : "line-sample", "aria-hidden": "true" }),
          h("span", { class: "name", title: n.name }, n.name)),
      ),
    );
    const rows = runs.map((r) => {
      const cells = names.map(() => h("td", { class: "num" }, "—"));
      this.cells.push(cells);
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = r.color;
      return h("tr", { "data-sid": r.sid }, h("th", { scope: "row" }, h("div", { class: "run-cell" }, swatch, h("span", { class: "run", title: r.label }, r.label))), ...cells);
    });
    return h("table", { class: "values compare-readout", "aria-live": "off" }, h("thead", {}, head), h("tbody", {}, ...rows));
  }

  /** Writes each run's value at data row `idx` (null: the latest values) into the readout. */
  private showAt(idx: number | null): void {
    const t = readoutTexts(this.lines, this.spec.runs.length, this.spec.names.length, idx, this.spec.xMode, this.spec.xLabel);
    setText(this.xCell, t.x);
    this.readout.dataset.idx = t.idx == null ? "" : String(t.idx);
    t.values.forEach((row, r) => row.forEach((v, n) => setText(this.cells[r][n], v)));
  }

  private setPoints(d: { lines: Aligned }): void {
    const n = this.spec.names.length;
    const count = (ys: (number | null | undefined)[] | undefined) => (ys ?? []).reduce<number>((k, v) => (v != null ? k + 1 : k), 0);
    // Per run: drawable train points (`data-points`) and validation points (`data-val-points`).
    const per = (val: boolean) => this.spec.runs.map((_r, r) => {
      const k = this.spec.names.findIndex((x) => x.val === val);
      return k < 0 ? 0 : count(d.lines[1 + r * n + k]);
    });
    this.el.dataset.points = per(false).join(",");
    this.el.dataset.valPoints = per(true).join(",");
  }

  setData(d: { data: Aligned; lines: Aligned }): void {
    this.lines = d.lines;
    this.plot.setData(d.data as uPlot.AlignedData, !this.range);
    this.applyRange();
    this.setPoints(d);
    this.showAt(this.plot.cursor.idx ?? null);
  }

  /** The visible x range (null: everything). */
  setRange(r: [number, number] | null): void {
    this.range = r;
    this.applyRange(true);
  }

  /** While a touch gesture moves: the range without touching the data. */
  setLiveRange(a: number, b: number): void {
    this.plot.setScale("x", { min: a, max: b });
  }

  private applyRange(reset = false): void {
    const r = this.range;
    const x = this.plot.data[0];
    if (r) this.plot.setScale("x", { min: r[0], max: r[1] });
    else if (reset && x.length) this.plot.setScale("x", { min: x[0] as number, max: x[x.length - 1] as number });
  }

  resize(): void {
    const w = Math.max(200, Math.floor(this.box.clientWidth));
    if (w && w !== this.plot.width) this.plot.setSize({ width: w, height: chartHeight() });
  }

  destroy(): void {
    this.untouch();
    this.plot.destroy();
    this.el.remove();
  }
}
