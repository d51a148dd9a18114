// Long runs (schema 2): open with a few reads, a one-step spike visible unzoomed, zoom to raw
// points, chart tools. Data from the real package (longrun.py → tfwatcher.Session) into the
// emulator; Chromium at 360×640.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { phoneContext, python, readCollection, seed, shot, takeCspViolations, waitForPoints, withDashboardAndBrowser } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});

/** longrun.py: resolves with {id, next(phase), go(), stop()} once the session exists. */
async function longRun(...args) {
  const child = spawn(python(), [join(here, "longrun.py"), ...args.map(String)], { cwd: here, env: process.env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-20000); });
  const lines = [];
  const waiters = [];
  let closed = false;
  createInterface({ input: child.stdout }).on("line", (l) => { lines.push(l); waiters.splice(0).forEach((w) => w()); })
    .on("close", () => { closed = true; waiters.splice(0).forEach((w) => w()); });
  let read = 0;
  const next = async (pred, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (read < lines.length) {
        const l = lines[read++];
        if (l.startsWith("{") && pred(JSON.parse(l))) return JSON.parse(l);
      }
      if (closed) throw new Error(`longrun.py ended early:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`longrun.py timed out:\n${stderr}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 1000).unref(); });
    }
  };
  const created = await next((e) => e.event === "created", 60_000);
  return {
    id: created.id,
    ready: (phase, timeoutMs = 300_000) => next((e) => e.event === "ready" && e.phase === phase, timeoutMs),
    go: () => child.stdin.write("go\n"),
    stop: () => new Promise((res) => {
      if (child.exitCode !== null) return res();
      child.once("exit", res);
      child.stdin.end();
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    }),
  };
}

/** Facts about the live charts, read in the page through `?debug`'s registry. */
const chartFacts = (page, prefix) => page.evaluate((p) => {
  const c = [...window.__tfwCharts].find((x) => x.spec.key.startsWith(p));
  if (!c || !c.uplot) return null;
  const u = c.uplot;
  const arr = (i) => (i > 0 ? Array.from(u.data[i]) : null);
  const x = Array.from(u.data[0]);
  return {
    n: x.length, x0: x[0], x1: x[x.length - 1], min: u.scales.x.min, max: u.scales.x.max, distr: u.scales.y.distr,
    line: arr(c.seriesIndex("line")), raw: arr(c.seriesIndex("raw")), hi: arr(c.seriesIndex("hi")), lo: arr(c.seriesIndex("lo")), x,
  };
}, prefix);

// The view sets data-zoomed when it renders; each chart draws its new data on the next
// animation frame. Wait for both, so a loaded CI machine cannot read the frame in between.
const zoomState = (page, test) => page.waitForFunction((t) => {
  const z = document.querySelector(".charts")?.dataset.zoomed;
  return (t.startsWith("!") ? z !== undefined && z !== t.slice(1) : z === t)
    && [...(window.__tfwCharts ?? [])].every((c) => !c.pending);
}, test, { timeout: 30_000 });

const openBatches = async (page, url) => {
  await page.addInitScript(() => localStorage.setItem("tfw:view", "batches"));
  await page.goto(url);
};

describe("a 1,000,000-point run", () => {
  let run;
  before(async () => {
    run = await longRun(1_000_000, "--spike", 612_345);
    await run.ready(1, 600_000);
  });
  after(async () => { await run?.stop(); });

  test("opens with a few reads and shows a one-step spike unzoomed; a 1,000-step zoom shows every raw point", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    try {
      await openBatches(page, `${dashboard.url}/s/${run.id}?debug`);
      // The band (bucket max) holds the spike although the line shows each bucket's last value.
      await page.waitForFunction(() => {
        const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
        const i = c?.seriesIndex("hi") ?? -1;
        return i > 0 && c.uplot && Array.from(c.uplot.data[i]).some((v) => v >= 50);
      }, null, { timeout: 30_000 });
      const f = await chartFacts(page, "m:loss|");
      assert.ok(f.n >= 150 && f.n <= 1300, `${f.n} rows drawn`);
      assert.ok(Math.max(...f.hi.filter((v) => v != null)) >= 50);
      assert.ok(Math.max(...f.line.filter((v) => v != null)) < 2, "the line is each bucket's last value");
      assert.ok(f.x1 >= 999_000, `x reaches ${f.x1}`);
      // y range covers the spike, unzoomed
      const yMax = await page.evaluate(() => [...window.__tfwCharts].find((x) => x.spec.key.startsWith("m:loss|")).uplot.scales.y.max);
      assert.ok(yMax >= 50, `y axis up to ${yMax}`);
      // Reads on open: the session, the train head, one level's parts, the raw tail; plus the epoch table.
      await page.waitForLoadState("networkidle").catch(() => {});
      const reads = await page.evaluate(() => window.__tfwReads);
      const withoutTable = reads.docs - (reads.byCollection.tables ?? 0);
      assert.ok(withoutTable <= 12, `${withoutTable} documents read on open: ${reads.ids.join(", ")}`);
      assert.ok((reads.byCollection.epochs ?? 0) === 0, "no epoch documents on the schema-2 path");
      assert.ok((reads.byCollection.tables ?? 0) >= 1, "the epoch table was read");
      // Loss charts first, then the rest A→Z; the legend shows the latest value, not a dash.
      const order = await page.$$eval(".charts .chart", (els) => els.map((e) => e.getAttribute("data-chart")));
      assert.match(order[0], /^m:loss\|/);
      assert.match(order[1], /^m:margin\|/);
      assert.equal(order.at(-1), "time");
      const legend = await page.locator('[data-chart^="m:loss|"] .u-legend .u-series:not(:first-child):not([hidden]) .u-value').first().textContent();
      assert.notEqual(legend.trim(), "—");
      assert.ok(Number.isFinite(Number(legend)), `legend shows ${legend}`);
      await shot(page, "e2e-longrun-1m-360x640");

      // Zoom to [612,000, 613,000]: the raw points, the spike among them, within a second.
      const ms = await page.evaluate(() => new Promise((resolve) => {
        const t0 = performance.now();
        window.__tfwView.zoom(612_000, 613_000);
        const check = () => {
          const c = [...window.__tfwCharts].find((x) => x.spec.key.startsWith("m:loss|"));
          const u = c?.uplot;
          const i = c?.seriesIndex("line");
          if (u && document.querySelector(".charts").dataset.zoomed === "data" && u.data[0].length > 900 && u.data[0].length < 1100
            && Array.from(u.data[0]).includes(612_345)) resolve(performance.now() - t0);
          else requestAnimationFrame(check);
        };
        check();
      }));
      const z = await chartFacts(page, "m:loss|");
      const k = z.x.indexOf(612_345);
      assert.equal(z.line[k], 50, "the raw point at step 612,345");
      const inside = z.x.filter((s) => s >= 612_000 && s <= 613_000);
      assert.equal(inside.length, 1001, "every step of the window");
      assert.deepEqual([z.min, z.max], [612_000, 613_000]);
      // Target 1 s (issue 10), measured on a quiet machine by bench/dashboard/open_costs.mjs;
      // CI shares two cores with the emulator and the writer, so the test allows 3 s.
      assert.ok(ms < 3000, `zoomed raw points shown after ${Math.round(ms)} ms`);
      console.log(`# zoom to 1,000 raw steps: ${Math.round(ms)} ms`);
      // every chart of the view shares the range
      const m = await chartFacts(page, "m:margin|");
      assert.deepEqual([m.min, m.max], [612_000, 613_000]);
      assert.ok(await page.locator('[data-tool="reset-zoom"]').isVisible());
      await shot(page, "e2e-longrun-zoomed-360x640");

      // Reset zoom: the whole run again, summaries.
      await page.click('[data-tool="reset-zoom"]');
      await zoomState(page, "no");
      const r = await chartFacts(page, "m:loss|");
      assert.ok(r.min === r.x0 && r.x0 <= 2048 && r.max === r.x1 && r.x1 === 1_000_000, `range after reset: ${r.min}..${r.max}`);
      assert.ok(r.n < 1300);
      assert.equal(await page.locator('[data-tool="reset-zoom"]').isVisible(), false);

      // longrun.py logs far faster than 500 steps/s, so the writer kept no 128-step level
      // (docs/schema.md "Fast runs"): the summaries start at 1,024 steps a bucket, level 1 of
      // the head's widths. The run opens on that level (977 buckets) ...
      assert.ok(reads.ids.includes("summaries/train-L1-000000"), reads.ids.join(", "));
      // ... so a 20,000-step zoom shows its buckets (no finer level to read) ...
      await page.evaluate(() => window.__tfwView.zoom(500_000, 520_000));
      await zoomState(page, "range");
      const w = await chartFacts(page, "m:loss|");
      const shown = w.x.filter((x) => x >= 500_000 && x <= 520_000).length;
      assert.ok(w.hi && shown >= 18 && shown <= 21 && w.min === 500_000 && w.max === 520_000, `${shown} buckets in ${w.min}..${w.max}`);
      assert.ok(w.x.filter((x) => x > 500_000 && x < 520_000).every((x) => (x + 1) % 1024 === 0), "1,024-step buckets");
      await page.click('[data-tool="reset-zoom"]');
      await zoomState(page, "no");
      // ... and one under 15 of those buckets (12,000 steps) reads the raw points.
      await page.evaluate(() => window.__tfwView.zoom(500_000, 512_000));
      await zoomState(page, "data");
      const raw = await chartFacts(page, "m:loss|");
      assert.equal(raw.x.filter((x) => x >= 500_000 && x <= 512_000).length, 12_001, "every step of the window");
      await page.click('[data-tool="reset-zoom"]');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("drag-select zooms with a mouse, pinch with two fingers; all charts follow", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await openBatches(page, `${dashboard.url}/s/${run.id}?debug`);
      await page.waitForFunction(() => [...(window.__tfwCharts ?? [])].some((c) => c.spec.key.startsWith("m:loss|") && c.uplot?.data[0].length > 100));
      const over = page.locator('[data-chart^="m:loss|"] .u-over');
      await over.scrollIntoViewIfNeeded();
      const box = await over.boundingBox();
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.3, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.5, y, { steps: 5 });
      await page.mouse.up();
      await zoomState(page, "!no");
      const a = await chartFacts(page, "m:loss|");
      const b = await chartFacts(page, "m:margin|");
      assert.ok(a.max - a.min < 300_000 && a.max - a.min > 50_000, `dragged range ${a.min}..${a.max}`);
      assert.deepEqual([b.min, b.max], [a.min, a.max]);
      await page.click('[data-tool="reset-zoom"]');
      await zoomState(page, "no");

      // Pinch out (two touch points moving apart), through Chromium's input pipeline.
      const cdp = await context.newCDPSession(page);
      const cx = box.x + box.width / 2;
      const tp = (dx) => [{ x: cx - dx, y, id: 1 }, { x: cx + dx, y, id: 2 }];
      const before = await chartFacts(page, "m:loss|");
      await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: tp(20) });
      for (const dx of [30, 45, 60, 80]) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: tp(dx) });
      await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
      await zoomState(page, "!no");
      const p = await chartFacts(page, "m:loss|");
      const span0 = before.max - before.min;
      const span1 = p.max - p.min;
      assert.ok(span1 < span0 / 2.5 && span1 > span0 / 6, `pinch: ${span0} → ${span1}`);
      const q = await chartFacts(page, "m:margin|");
      assert.deepEqual([q.min, q.max], [p.min, p.max]);
      // One finger pans the zoomed range.
      await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: cx, y, id: 1 }] });
      for (const dx of [10, 30, 60]) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: cx + dx, y, id: 1 }] });
      await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
      await page.waitForFunction((m) => {
        const c = [...window.__tfwCharts].find((x) => x.spec.key.startsWith("m:loss|"));
        return c.uplot.scales.x.min < m - 1000;
      }, p.min);
      const panned = await chartFacts(page, "m:loss|");
      assert.ok(Math.abs((panned.max - panned.min) - span1) < span1 * 0.01, "panning keeps the span");
    } finally {
      await context.close();
    }
  });

  test("smoothing, log scale, x axis and PNG download", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await openBatches(page, `${dashboard.url}/s/${run.id}?debug`);
      await page.waitForFunction(() => [...(window.__tfwCharts ?? [])].some((c) => c.spec.key.startsWith("m:margin|") && c.uplot?.data[0].length > 100));
      // Smoothing: the drawn line changes, the raw line stays (faint) behind it; remembered.
      const plain = await chartFacts(page, "m:margin|");
      assert.equal(plain.raw, null);
      await page.locator('[data-tool="smooth"]').fill("0.9");
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:margin|"))?.seriesIndex("raw") > 0);
      const sm = await chartFacts(page, "m:margin|");
      assert.deepEqual(sm.raw, plain.line, "the raw line is what was drawn before");
      const diff = sm.line.filter((v, i) => v != null && Math.abs(v - sm.raw[i]) > 1e-6).length;
      assert.ok(diff > sm.line.length / 2, `${diff} of ${sm.line.length} values smoothed`);
      assert.equal(await page.evaluate(() => localStorage.getItem("tfw:smooth")), "0.9");
      await page.reload();
      await page.waitForFunction(() => [...(window.__tfwCharts ?? [])].some((c) => c.spec.key.startsWith("m:margin|") && c.seriesIndex("raw") > 0 && c.uplot?.data[0].length > 100));
      assert.equal(await page.locator('[data-tool="smooth"]').inputValue(), "0.9");
      // Reloaded (Firestore's cache knows there is no system head): the system kind is found by
      // a count of its chunks, gets a tab, and the view stays on train.
      // A count query over the run's chunks in the emulator: slow on a loaded CI machine (once
      // over 90 s), never wrong; the test waits rather than flakes.
      // (The dashboard retries that count: a reload once left it unanswered, CI.)
      await page.waitForSelector('.kind-tabs button:text-is("system")', { timeout: 240_000 }).catch(async (err) => {
        const seen = await page.evaluate(() => JSON.stringify({ reads: window.__tfwReads?.ids, page: document.body.innerText.slice(0, 300) }));
        throw new Error(`${err.message}\nwhat the page read and showed: ${seen}`);
      });
      assert.equal(await page.locator('.kind-tabs button:text-is("train")').getAttribute("aria-pressed"), "true");
      await page.locator('[data-tool="smooth"]').fill("0");
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:margin|"))?.seriesIndex("raw") < 0);

      // Log scale: distr 3; non-positive values become gaps.
      await page.click('[data-tool="log"]');
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:margin|"))?.uplot.scales.y.distr === 3);
      const lg = await chartFacts(page, "m:margin|");
      assert.ok(lg.line.every((v) => v == null || v > 0), "no value ≤ 0 drawn on a log scale");
      assert.ok(lg.line.some((v) => v == null) && lg.line.some((v) => v > 0));
      assert.ok(lg.lo.every((v) => v == null || v > 0));
      await shot(page, "e2e-longrun-log-360x640");
      await page.click('[data-tool="log"]');
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:margin|"))?.uplot.scales.y.distr === 1);

      // X axis: epoch (fractional, 0..100), wall time (Unix seconds), relative time (from 0).
      await page.selectOption('[data-tool="x"]', "epoch");
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:loss|"))?.uplot.data[0].at(-1) <= 101);
      const ep = await chartFacts(page, "m:loss|");
      assert.ok(ep.x1 > 99 && ep.x1 <= 100.01 && ep.x0 >= 0 && ep.x0 < 1, `epochs ${ep.x0}..${ep.x1}`);
      await page.selectOption('[data-tool="x"]', "wall");
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:loss|"))?.uplot.data[0][0] > 1.5e9);
      const wall = await chartFacts(page, "m:loss|");
      assert.ok(Math.abs(wall.x1 - Date.now() / 1000) < 3600, "wall time is the run's Unix time");
      await page.selectOption('[data-tool="x"]', "relative");
      await page.waitForFunction(() => [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:loss|"))?.uplot.data[0][0] < 1e6);
      const rel = await chartFacts(page, "m:loss|");
      assert.ok(rel.x0 >= 0 && rel.x0 < 60 && rel.x1 > rel.x0 && rel.x1 < 3600, `relative ${rel.x0}..${rel.x1}`);
      // Zoom in relative time: mapped back to steps, finer data read.
      await page.evaluate(([a, b]) => window.__tfwView.zoom(a, b), [rel.x0 + (rel.x1 - rel.x0) * 0.6, rel.x0 + (rel.x1 - rel.x0) * 0.61]);
      await zoomState(page, "data");
      await page.click('[data-tool="reset-zoom"]');
      await page.selectOption('[data-tool="x"]', "step");

      // Download PNG of the loss chart.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.locator('[data-chart^="m:loss|"] .chart-png').click(),
      ]);
      assert.match(download.suggestedFilename(), /^loss\.png$/);
      const png = readFileSync(await download.path());
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.length > 2000, `${png.length} bytes`);
    } finally {
      await context.close();
    }
  });
});

describe("other sessions", () => {
  test("an old-format (schema 1) session opens from its chunks and epoch documents", async () => {
    const sid = await seed("points", 3000);
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await openBatches(page, `${dashboard.url}/s/${sid}?debug`);
      await waitForPoints(page, "m:loss|", 3000);
      const f = await chartFacts(page, "m:loss|");
      assert.equal(f.hi, null, "raw points, no band");
      const reads = await page.evaluate(() => window.__tfwReads);
      assert.equal(reads.byCollection.batches, 2);
      assert.equal(reads.byCollection.summaries ?? 0, 0);
      // zooming only narrows the axis: every point is here already
      await page.evaluate(() => window.__tfwView.zoom(1000, 1500));
      await zoomState(page, "range");
      const z = await chartFacts(page, "m:loss|");
      assert.deepEqual([z.min, z.max, z.n], [1000, 1500, 3000]);
    } finally {
      await context.close();
    }
  });

  test("a live schema-2 run: raw chunks under 10,000 steps, then summaries that follow the head", async () => {
    const live = await longRun(36_000, "--phases", 4);
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await live.ready(1);
      await openBatches(page, `${dashboard.url}/s/${live.id}?debug`);
      await waitForPoints(page, "m:loss|", 9_000);
      assert.equal((await chartFacts(page, "m:loss|")).hi, null, "under 10,000 steps: raw points");
      for (const phase of [2, 3, 4]) {
        live.go();
        await live.ready(phase);
        const through = phase * 9_000;
        const head = (await readCollection(`sessions/${live.id}/summaries`))["train-head"];
        assert.equal(head.through, through);
        const w = head.widths[0];
        // Level 1: every bucket up to `through` present, none twice (parts re-read as buckets
        // leave the head), and the last bucket at the last step.
        await page.waitForFunction(([t, w]) => {
          const c = [...window.__tfwCharts].find((x) => x.spec.key.startsWith("m:loss|"));
          const x = c?.uplot?.data[0];
          return c.seriesIndex("hi") > 0 && x && x[x.length - 1] === t && x.length === Math.floor(t / w) + 1;
        }, [through, w], { timeout: 60_000 }).catch(async (e) => {
          const f = await chartFacts(page, "m:loss|");
          throw new Error(`phase ${phase}: ${f?.n} rows, last x ${f?.x1}: ${e.message}`);
        });
        const f = await chartFacts(page, "m:loss|");
        assert.ok(f.x.every((v, i) => i === 0 || v > f.x[i - 1]), "x ascending, no bucket twice");
      }
      const reads = await page.evaluate(() => window.__tfwReads);
      assert.ok(!reads.ids.some((id) => /^epochs\//.test(id)), "no epoch documents");
    } finally {
      await context.close();
      await live.stop();
    }
  });
});
