// The compare page as a person sees it (issue 21 item 8): train and validation twins on one
// chart per metric in the session page's order, every run's value at the crosshair, the
// session page's chart tools, and the config keys that differ. Real emulator, real Chromium,
// sessions written by the Python package. Screenshots: test-artifacts/screenshots/compare-readout-*.png.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { artifacts, python, takeCspViolations, watchCsp, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});
const shots = join(artifacts, "screenshots");
mkdirSync(shots, { recursive: true });

// Two finished runs: same metrics, different learning rates. Run A's loss is 1/epoch, run B's 1.5/epoch;
// val_loss is 1.1 times the loss.
const WRITE = `
import json, sys, tfwatcher
out = {}
for name, lr, scale in (("run A", 0.001, 1.0), ("run B", 0.01, 1.5)):
    s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=sys.argv[1], interval=0.2, system_metrics=False,
                          config={"learning_rate": lr, "batch_size": 32, "optimizer": "adam", "seed": 7})
    s.start(mode="fit", epochs=3, steps=4)
    for epoch in (1, 2, 3):
        for batch in range(1, 5):
            step = (epoch - 1) * 4 + batch
            s.log_batch({"loss": scale / step, "accuracy": 1 - 0.5 / step}, epoch=epoch, batch=batch, seconds=0.01)
        s.log_epoch({"loss": scale / epoch, "accuracy": 1 - 0.5 / epoch, "val_loss": scale * 1.1 / epoch,
                     "val_accuracy": 1 - 0.6 / epoch}, epoch=epoch, seconds=0.2)
    s.finish(wait=20)
    out[name] = s.id
print(json.dumps(out), flush=True)
`;

function writeRuns() {
  return new Promise((res, rej) => {
    const child = spawn(python(), ["-c", WRITE, dashboard.url], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err = (err + d).slice(-20000); });
    child.once("exit", (code) => (code === 0 ? res(JSON.parse(out.trim().split("\n").pop())) : rej(new Error(`writer failed\n${err}`))));
  });
}

// Written once, by the first test that needs them (after the dashboard has started).
let written = null;
let ids;
const runsWritten = async () => { ids = await (written ??= writeRuns()); };

async function phone(viewport, colorScheme = "light") {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme });
  await watchCsp(context);
  return context;
}

const readout = (page, chart) => page.locator(`[data-compare-chart="${chart}"] .compare-readout`);

/** The readout as text: its heading, then per run [name, value…]. */
async function readoutText(page, chart) {
  const r = readout(page, chart);
  return {
    x: (await r.locator("thead th").first().textContent()).trim(),
    rows: await r.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim()))),
  };
}

/** Taps a chart at the fraction `f` of its plot's width. */
async function tapAt(page, chart, f) {
  const box = await page.locator(`[data-compare-chart="${chart}"] .u-over`).boundingBox();
  await page.touchscreen.tap(box.x + box.width * f, box.y + box.height / 2);
}

const widthOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

describe("compare page", () => {
  test("twins on one chart in the session page's order; values at the crosshair; chart tools; config diff", async () => {
    await runsWritten();
    const context = await phone({ width: 360, height: 640 });
    const page = await context.newPage();
    try {
      await page.goto(`${dashboard.url}/compare?ids=${ids["run A"]},${ids["run B"]}`);
      await page.waitForSelector('[data-compare-chart="loss"][data-points="3,3"][data-val-points="3,3"]');
      await page.waitForSelector('[data-compare-chart="accuracy"][data-points="3,3"][data-x-range="1 – 3"]');
      // One chart per metric, val_ with its training twin, loss first: no val_loss chart of its own.
      const titles = await page.locator("[data-compare-chart] figcaption").allTextContents();
      assert.deepEqual(titles.map((t) => t.trim()), ["loss", "accuracy"]);
      // The readout's legend: the val series is the dashed one.
      const heads = await readout(page, "loss").locator("thead th.num").evaluateAll((ths) =>
        ths.map((th) => [th.textContent.trim(), th.querySelector(".line-sample").classList.contains("dashed")]));
      assert.deepEqual(heads, [["loss", false], ["val_loss", true]]);
      // Before a touch: the latest values.
      await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] tbody tr td')?.textContent === "0.33333");
      assert.deepEqual(await readoutText(page, "loss"), {
        x: "Latest",
        rows: [["run A", "0.33333", "0.36667"], ["run B", "0.5", "0.55"]],
      });
      // A tap at epoch 2 (the middle of 1..3): every run's train and val value there, in every chart.
      await tapAt(page, "loss", 0.5);
      await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] thead th')?.textContent === "epoch 2");
      assert.deepEqual(await readoutText(page, "loss"), {
        x: "epoch 2",
        rows: [["run A", "0.5", "0.55"], ["run B", "0.75", "0.825"]],
      });
      assert.deepEqual(await readoutText(page, "accuracy"), {
        x: "epoch 2",
        rows: [["run A", "0.75", "0.7"], ["run B", "0.75", "0.7"]],
      });
      assert.ok(await widthOverflow(page) <= 0, "no sideways scrolling at 360 px");

      // Config: only the key that differs, the others folded away.
      const differ = page.locator('table[data-config="differ"] tbody tr');
      assert.deepEqual(await differ.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim()))),
        [["learning_rate", "0.001", "0.01"]]);
      const fold = page.locator(".compare-config details");
      assert.equal(await fold.getAttribute("open"), null);
      assert.equal((await fold.locator("summary").textContent()).trim(), "3 keys with the same value in every run");
      assert.deepEqual(await page.locator('table[data-config="same"] tbody th').allTextContents(), ["batch_size", "optimizer", "seed"]);

      // Smoothing (the session page's slider): the readout shows the smoothed line.
      await page.locator('[data-tool="smooth"]').fill("0.6");
      await page.mouse.move(1, 1); // the cursor off the charts: latest values
      await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] tbody tr td')?.textContent === "0.5068");
      await page.locator('[data-tool="smooth"]').fill("0");
      await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] tbody tr td')?.textContent === "0.33333");
      // Log y: a log scale on every chart.
      await page.click('[data-tool="log"]');
      await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] .u-over') != null);
      assert.equal(await page.locator('[data-tool="log"]').getAttribute("aria-pressed"), "true");
      await page.click('[data-tool="log"]');
      // Zoom: a drag across the first half zooms every chart; Reset zoom undoes it.
      const box = await page.locator('[data-compare-chart="loss"] .u-over').boundingBox();
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + 2, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.5, y, { steps: 5 });
      await page.mouse.up();
      await page.waitForSelector('[data-tool="reset-zoom"]:not([hidden])');
      // Every chart shows about epochs 1 to 2 now (the ticks are drawn on a canvas: the range is on the figure).
      for (const chart of ["loss", "accuracy"]) {
        const [a, b] = (await page.locator(`[data-compare-chart="${chart}"]`).getAttribute("data-x-range")).split(" – ").map(Number);
        assert.ok(a >= 1 && b <= 2.1 && b > a, `zoomed ${chart}: ${a}–${b}`);
      }
      await page.click('[data-tool="reset-zoom"]');
      await page.waitForSelector('[data-tool="reset-zoom"][hidden]', { state: "attached" });
      await page.waitForSelector('[data-compare-chart="accuracy"][data-x-range="1 – 3"]');
      // X axis: relative time; the readout speaks in durations.
      await page.selectOption('[data-tool="x"]', "relative");
      await page.waitForSelector('[data-compare-chart="loss"][data-points="3,3"]');
      await page.waitForSelector('[data-compare-chart="loss"][data-x-range$="s"]');
      assert.match(await page.locator('[data-compare-chart="loss"]').getAttribute("data-x-range"), /^0s – [\d.e-]+s$/);

      // By step: the train batches (12 per run), still one chart per metric.
      await page.selectOption('[data-tool="x"]', "epoch");
      await page.click('button[data-align="step"]');
      await page.waitForSelector('[data-compare-chart="loss"][data-points="12,12"]');
      assert.equal(await page.locator('[data-tool="x"]').inputValue(), "step");
    } finally {
      await context.close();
    }
  });

  test("screenshots at 360×640 and 430×932, light and dark", async () => {
    await runsWritten();
    for (const colorScheme of ["light", "dark"]) {
      for (const vp of [{ width: 360, height: 640 }, { width: 430, height: 932 }]) {
        const context = await phone(vp, colorScheme);
        const page = await context.newPage();
        try {
          await page.goto(`${dashboard.url}/compare?ids=${ids["run A"]},${ids["run B"]}`);
          await page.waitForSelector('[data-compare-chart="accuracy"][data-points="3,3"]');
          await page.waitForSelector('table[data-config="differ"]');
          await tapAt(page, "loss", 0.5);
          await page.waitForFunction(() => document.querySelector('[data-compare-chart="loss"] thead th')?.textContent === "epoch 2");
          assert.ok(await widthOverflow(page) <= 0);
          const name = `compare-readout-${vp.width}x${vp.height}-${colorScheme}`;
          await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
        } finally {
          await context.close();
        }
      }
    }
  });
});
