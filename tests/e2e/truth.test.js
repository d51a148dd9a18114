// Issue #21: what the phone shows must be true. Each test reads what a person sees on the
// built page (legend texts, axis tick and title texts, the pill, the card, the notices, the
// recents line) with data written by the real logging API (truth_writer.py) into the
// emulator. TFW_DIST=/path/to/dist runs them against another build (e.g. the one before the
// fixes, where they fail).
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launch, takeCspViolations, watchCsp } from "./helpers.js";
import { chartText, chartTextWhen, child, serve, written } from "./truth-helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
let dashboard;
let browser;
/** Sessions written once for the whole file: system, nan, stopped, names; and a stalled one (seed.py). */
const runs = {};

async function writeRuns() {
  for (const sc of ["system", "nan", "stopped", "names"]) runs[sc] = await written(sc, dashboard.url);
  const c = child([join(here, "seed.py"), "stalled"]);
  runs.stalled = { id: (await c.next(() => true, 120_000)).trim(), stop: c.stop };
}

// One hook: node:test does not wait for one top-level `before` before starting the next.
before(async () => {
  dashboard = await serve();
  browser = await launch();
  await writeRuns();
});
after(async () => {
  for (const r of Object.values(runs)) await r.stop();
  await browser?.close();
  await dashboard?.stop();
});
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});

async function phonePage() {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await watchCsp(context);
  return { context, page: await context.newPage() };
}

/** A phone page on a session (`?debug` exposes the charts), with `view` picked. */
async function open(run, { view, status } = {}) {
  const { context, page } = await phonePage();
  await page.goto(`${dashboard.url}/s/${runs[run].id}?debug`);
  await page.waitForSelector(`.pill[data-status="${status}"]`);
  if (view) await page.click(`[data-view="${view}"]`);
  return { context, page };
}

const LONG = "customer_churn_probability_within_90_days_";

async function onPage(run, opts, body) {
  const { context, page } = await open(run, opts);
  try {
    await body(page);
  } finally {
    await context.close();
  }
}

test("system tab: the tab row stays and CPU and memory charts are drawn", { timeout: 120_000 }, () =>
  onPage("system", { view: "batches", status: "running" }, async (page) => {
    await page.waitForSelector('.kind-tabs:not([hidden]) button:text-is("system")');
    await page.click('.kind-tabs button:text-is("system")');
    await page.waitForSelector('[data-chart^="m:cpu_percent|"]', { timeout: 30_000 });
    await page.waitForSelector('[data-chart^="m:memory_percent|"]');
    assert.equal(await page.locator(".kind-tabs").isVisible(), true);
    assert.equal(await page.locator('.kind-tabs button[aria-pressed="true"]').textContent(), "system");
    assert.equal(await page.locator('[data-chart^="m:loss|"]').count(), 0, "the train charts are gone");
    assert.ok(Number(await page.locator('[data-chart^="m:cpu_percent|"]').getAttribute("data-points")) >= 4);
  }));

test("system tab: found when the first count of its chunks fails (the dashboard asks again)", { timeout: 120_000 }, async () => {
  const { context, page } = await phonePage();
  try {
    let refused = 0;
    await context.route(/:runAggregationQuery/, (route) => (refused++ === 0 ? route.abort("connectionreset") : route.continue()));
    await page.goto(`${dashboard.url}/s/${runs.system.id}?debug`);
    await page.click('[data-view="batches"]');
    await page.waitForSelector('.kind-tabs:not([hidden]) button:text-is("system")', { timeout: 60_000 });
    assert.ok(refused >= 2, `count asked ${refused} times`);
  } finally {
    await context.close();
  }
});

test("seconds per batch: the first batch's compile time stays off the scale, with a note", { timeout: 120_000 }, () =>
  onPage("system", { view: "batches", status: "running" }, async (page) => {
    await page.waitForFunction(() => document.querySelector('[data-chart="time"]')?.getAttribute("data-points") === "30");
    const time = await chartText(page, "time");
    assert.ok(time.yTicks.every((t) => Number(t) < 1), `y ticks ${time.yTicks}`);
    assert.match(time.note, /first: 4s, off the scale/);
  }));

test("relative time: durations with units under a title that says so; the legend likewise", { timeout: 120_000 }, () =>
  onPage("system", { view: "batches", status: "running" }, async (page) => {
    await page.waitForSelector('[data-chart^="m:loss|"]');
    await page.selectOption('[data-tool="x"]', "relative");
    await page.waitForFunction(() => [...window.__tfwCharts].some((c) => c.options.xMode === "relative"));
    const rel = await chartTextWhen(page, "m:loss|", (t) => t.xTitle === "time since start" && /s$/.test(t.rows[0]?.value ?? ""));
    assert.equal(rel.xTitle, "time since start");
    assert.ok(rel.xTicks.length > 1 && rel.xTicks.every((t) => /^-?\d+(\.\d+)?(s|m|h|d)( \d+(s|m|h))?$/.test(t)), `ticks ${rel.xTicks}`);
    assert.equal(rel.rows[0].label, "time since start");
    assert.match(rel.rows[0].value, /^\d+(\.\d+)?s$/);
  }));

test("wall time: dates and times under a time title, never raw Unix seconds", { timeout: 120_000 }, () =>
  onPage("system", { view: "batches", status: "running" }, async (page) => {
    await page.waitForSelector('[data-chart^="m:loss|"]');
    await page.selectOption('[data-tool="x"]', "wall");
    await page.waitForFunction(() => [...window.__tfwCharts].some((c) => c.options.xMode === "wall"));
    const wall = await chartTextWhen(page, "m:loss|", (t) => t.xTitle === "time of day" && t.xTicks.length > 0 && /\d{2}:\d{2}:\d{2}/.test(t.rows[0]?.value ?? ""));
    assert.equal(wall.xTitle, "time of day");
    assert.ok(wall.xTicks.length > 0 && wall.xTicks.every((t) => !/^\d{1,3}(,\d{3})+$|^\d{9,}/.test(t)), `ticks ${wall.xTicks}`);
    assert.match(wall.rows[0].value, /\d{2}:\d{2}:\d{2}/);
  }));

test("NaN: the legend says NaN at the last epoch, not the last finite value", { timeout: 120_000 }, () =>
  onPage("nan", { view: "epochs", status: "finished" }, async (page) => {
    await page.waitForFunction(() => document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") === "4");
    const loss = await chartText(page, "m:loss|");
    assert.deepEqual(loss.rows.slice(1).map((r) => r.value), ["NaN", "NaN"], JSON.stringify(loss.rows));
    assert.ok(loss.yTicks.every((t) => !t.includes("e+")), `y ticks ${loss.yTicks}`);
  }));

test("NaN: the pill says 'Finished · NaN', and the home page's recents give the hint", { timeout: 120_000 }, () =>
  onPage("nan", { status: "finished" }, async (page) => {
    assert.equal(await page.locator(".pill").textContent(), "Finished · NaN");
    await page.goto(`${dashboard.url}/`);
    assert.match(await page.locator(".recent li").first().textContent(), /finished · NaN · /);
  }));

test("a stopped run: the card counts batches of the epoch ('1 of 10', not 'Step 10 of 10')", { timeout: 120_000 }, () =>
  onPage("stopped", { view: "epochs", status: "stopped" }, async (page) => {
    await page.waitForFunction(() => document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") === "3");
    assert.equal(await page.locator('[data-label="step"]').textContent(), "Batch of epoch");
    assert.equal(await page.locator('[data-field="step"]').textContent(), "1 of 10");
  }));

test("a stopped run: its last one-batch epoch is marked partial (notice and legend)", { timeout: 120_000 }, () =>
  onPage("stopped", { view: "epochs", status: "stopped" }, async (page) => {
    await page.waitForFunction(() => document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") === "3");
    assert.match(await page.locator(".notices").textContent(), /Epoch 3 is partial: the run ended after 1 of its 10 batches/);
    const loss = await chartText(page, "m:loss|");
    assert.equal(loss.rows[0].value, "3 (partial)");
  }));

test("long names: one line a legend row, cut in the middle so they stay apart, the whole name in its title", { timeout: 120_000 }, () =>
  onPage("names", { view: "batches", status: "finished" }, async (page) => {
    await page.waitForSelector('[data-chart^="m:customer_churn_probability_within_90_days_recall|"]');
    const labels = [];
    for (const n of ["precision", "recall", "auc"]) {
      // Charts appear one after another: wait for this one's legend, not only for the first chart.
      const text = await chartTextWhen(page, `m:${LONG}${n}|`, (t) => t.rows.length > 1);
      assert.ok(text, `the chart of ${LONG}${n} is drawn`);
      const row = text.rows[1];
      assert.ok(row.height < 30, `one line: ${JSON.stringify(row)}`);
      assert.equal(row.title, `${LONG}${n}`);
      labels.push(row.label);
    }
    assert.equal(new Set(labels).size, 3, `labels stay apart: ${labels}`);
  }));

test("long names: the values table keeps their ends apart; a tap shows the whole name", { timeout: 120_000 }, () =>
  onPage("names", { status: "finished" }, async (page) => {
    await page.click("details.latest summary");
    const cells = page.locator("details.latest th .clamp");
    const texts = (await cells.allTextContents()).filter((c) => c.startsWith("customer_"));
    assert.equal(texts.length, 3);
    assert.ok(texts.every((t) => t.length <= 40 && /(precision|recall|auc)$/.test(t)), `${texts}`);
    const cut = cells.filter({ hasText: "…" }).first();
    await cut.click();
    assert.match(await page.locator("details.latest th .clamp.expanded").textContent(), /^customer_churn_probability_within_90_days_\w+$/);
  }));

test("a stalled (perhaps dead) run: no ETA and no Notify me", { timeout: 120_000 }, () =>
  onPage("stalled", { status: "stalled" }, async (page) => {
    await page.waitForFunction(() => document.querySelector('[data-field="step"]')?.textContent !== "—");
    assert.equal(await page.locator('[data-field="eta"]').textContent(), "—");
    assert.equal(await page.locator('[data-action="notify"]').isVisible(), false);
  }));
