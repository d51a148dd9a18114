/**
 * `/compare?ids=a,b&x=step`: up to 5 sessions overlaid, one chart per metric, one colour per
 * run. Aligned by epoch (epoch documents, or the epoch table of a schema-2 session) or, with
 * the toggle, by step (each session's train batch points: the raw chunks, or for schema 2 the
 * coarsest summary level that still has ~150+ buckets plus the raw tail; data.ts reads
 * either). Live: each session is read with the same listeners as its own page. The state
 * is the URL (shareable). A malformed ID or one that does not exist is marked in the list;
 * the others are still shown. Its own chunk, loaded on this route only.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { subscribeSession, type SessionData, type SessionFeed } from "../data";
import { getDb } from "../firebase";
import { h, setText } from "../dom";
import { buildEpochTable } from "../epoch-table";
import type { Table } from "../series";
import { displaySid } from "../sid";
import { visibleText } from "../visible";
import { sessionPath } from "../router";
import { STATUS_LABEL, effectiveStatus, lastActivityMs, parseSession } from "../status";
import {
  MAX_COMPARE,
  RUN_COLORS,
  alignMetric,
  comparePath,
  metricNames,
  parseCompareInput,
  parseCompareSearch,
  pointsPerRun,
  runSeries,
  type Align,
  type CompareEntry,
} from "../compare-model";

/** x is an epoch or a step: whole numbers only on its axis. */
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

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

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
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
  const main = h(
    "main",
    { class: "compare" },
    h("h1", {}, "Compare runs"),
    form,
    legend,
    alignBar,
    empty,
    chartsBox,
    more,
  );
  root.replaceChildren(main);
  document.title = "Compare runs · TF Watcher";

  for (const b of [byEpoch, byStep]) {
    b.addEventListener("click", () => {
      const a = b.dataset.align as Align;
      if (a === align) return;
      align = a;
      history.replaceState(null, "", comparePath(entries.map((e) => e.input), align));
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
  const charts = new Map<string, { el: HTMLElement; plot: uPlot; box: HTMLElement }>();
  let shape = ""; // which runs the charts have series for
  let renderTimer = 0;
  let lastRender = 0;

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
    for (const c of charts.values()) c.plot.destroy();
    charts.clear();
    chartsBox.replaceChildren();
    shape = "";
  }

  function runState(r: Run): { state: string; label: string; name: string } {
    const d = r.data;
    if (!d || d.state === "loading") return { state: "loading", label: "loading…", name: "" };
    if (d.state === "missing") return { state: "missing", label: "not found", name: "" };
    if (d.state === "denied" && !d.session) return { state: "denied", label: "permission denied", name: "" };
    if (d.state === "error" && !d.session) return { state: "error", label: d.errorMessage || "error", name: "" };
    const info = parseSession(d.session ?? {});
    const lastTime = (t: Table | null | undefined) => {
      const v = t?.time;
      return v && v.length ? v[v.length - 1] : null;
    };
    const last = lastActivityMs(info.heartbeatMs, lastTime(r.epochs), lastTime(d.batches.kinds.get("train")?.table));
    const st = effectiveStatus(info.status, last, Date.now());
    return { state: "ok", label: STATUS_LABEL[st], name: info.name };
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

  function tableOf(r: Run): Table | null {
    const d = r.data;
    if (!d || !d.session) return null;
    if (align === "epoch") {
      if (r.epochsVersion !== d.epochsVersion || !r.epochs) {
        r.epochs = buildEpochTable(d.epochs.values());
        r.epochsVersion = d.epochsVersion;
      }
      return r.epochs;
    }
    return d.batches.kinds.get("train")?.table ?? null;
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
      resetCharts();
      return;
    }
    // Charts have one series per run that exists (not found, denied or loading: none).
    const drawn = runs.filter((r) => r.data?.session && r.data.state !== "missing");
    const series = drawn.map((r) => runSeries(tableOf(r)));
    const names = metricNames(series);
    const shown = names.slice(0, MAX_CHARTS);
    const sig = drawn.map((r) => r.entry.sid).join(",") + "|" + align;
    if (sig !== shape) {
      resetCharts();
      shape = sig;
    }
    const wanted = new Set(shown);
    for (const [k, c] of charts) {
      if (!wanted.has(k)) {
        c.plot.destroy();
        c.el.remove();
        charts.delete(k);
      }
    }
    shown.forEach((name, i) => {
      const data = alignMetric(series, name);
      let c = charts.get(name);
      if (!c) {
        c = makeChart(name, data, drawn);
        charts.set(name, c);
      } else {
        c.plot.setData(data as uPlot.AlignedData);
      }
      c.el.dataset.points = pointsPerRun(data).join(",");
      if (chartsBox.children[i] !== c.el) chartsBox.insertBefore(c.el, chartsBox.children[i] ?? null);
    });
    const loading = runs.some((r) => !r.data || r.data.state === "loading");
    empty.hidden = shown.length > 0;
    setText(empty, loading ? "Loading…" : align === "epoch" ? "No epoch has finished in these runs yet." : "No train batch points in these runs yet.");
    more.hidden = names.length <= MAX_CHARTS;
    setText(more, `Showing ${MAX_CHARTS} of ${names.length} metrics.`);
  }

  function makeChart(name: string, data: (number | null | undefined)[][], drawn: Run[]): { el: HTMLElement; plot: uPlot; box: HTMLElement } {
    const box = h("div", { class: "plot" });
    const el = h(
      "figure",
      { class: "chart", "data-compare-chart": name, "data-runs": String(drawn.length) },
      h("figcaption", {}, h("span", { class: "clamp", title: visibleText(name) }, visibleText(name))),
      box,
    );
    chartsBox.appendChild(el);
    const axis = cssVar("--fg-muted", "#5f6368");
    const grid = cssVar("--grid", "rgba(0,0,0,0.08)");
    const axisBase = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const few = data[0].length <= 40;
    const plot = new uPlot(
      {
        width: Math.max(200, Math.floor(box.clientWidth || 320)),
        height: window.innerWidth < 600 ? 170 : 220,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [
          { ...axisBase, label: align === "epoch" ? "epoch" : "step", labelSize: 18, size: 34, incrs: INTEGER_INCRS },
          { ...axisBase, size: 52 },
        ],
        series: [
          {},
          ...drawn.map((r) => ({
            label: runState(r).name || displaySid(r.entry.sid),
            stroke: r.color,
            width: 1.5,
            points: { show: few, size: 5, fill: r.color },
          })),
        ],
      },
      data as uPlot.AlignedData,
      box,
    );
    return { el, plot, box };
  }

  const ro = new ResizeObserver(() => {
    for (const c of charts.values()) {
      const w = Math.max(200, Math.floor(c.box.clientWidth));
      if (w && w !== c.plot.width) c.plot.setSize({ width: w, height: c.plot.height });
    }
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
