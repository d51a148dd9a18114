// A hidden page costs nothing (docs/dashboard.md): a phone on a live run, hidden for more
// than 30 s, drops every Firestore listener and receives no document while the writer keeps
// logging; shown again, it listens again and its charts catch up within a few seconds.
// Documents received are counted by the page's `?debug` read log (window.__tfwReads).
// TFW_HIDDEN_SECONDS / TFW_VISIBLE_SECONDS lengthen the two measured windows (default 20 s);
// the figures go to test-artifacts/e2e-hidden-reads-{raw,summaries}.json.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifacts, child, phoneContext, repo, takeCspViolations, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});

const HIDDEN_S = Number(process.env.TFW_HIDDEN_SECONDS || 20);
const VISIBLE_S = Number(process.env.TFW_VISIBLE_SECONDS || 20);
const DETACH_S = JSON.parse(readFileSync(join(repo, "tfwatcher", "base", "contract.json"), "utf8")).attention.hidden_detach_seconds;

// A live run of `per` batches every 50 ms (1 metric) until stdin closes; prints the newest step
// logged twice a second.
const WRITER = `
import json, sys, threading, time
import tfwatcher
s = tfwatcher.Session(run_name="e2e hidden", quiet=True, dashboard_url=sys.argv[1])
per = int(sys.argv[2])
s.start(mode="fit", epochs=1, steps=1_000_000)
print(json.dumps({"event": "created", "id": s.id}), flush=True)
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
step, said = 0, 0.0
while not done.is_set():
    for _ in range(per):
        step += 1
        s.log_batch({"loss": 1.0 / step}, epoch=1, batch=step, seconds=0.05 / per)
    time.sleep(0.05)
    if time.monotonic() - said >= 0.5:
        said = time.monotonic()
        print(json.dumps({"event": "logged", "step": step}), flush=True)
s.finish(wait=20)
`;

/** The batch loss chart's x range, from `?debug`'s chart registry. */
const lossChart = (page) => page.evaluate(() => {
  const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
  const x = c?.uplot ? c.uplot.data[0] : null;
  return x && x.length ? { n: x.length, x0: x[0], x1: x[x.length - 1] } : null;
});
const readDocs = (page) => page.evaluate(() => window.__tfwReads.docs);
const readsBy = (page) => page.evaluate(() => ({ ...window.__tfwReads.byCollection }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens a live run of `per` batches every 50 ms once its chart shows more than `from` steps,
 * measures the documents received visible, hidden and on the return; `raw`: every step is drawn.
 */
async function hideAndShow(name, { per, from, raw }) {
  const w = child(["-c", WRITER, dashboard.url, String(per)]);
  const created = JSON.parse(await w.next((l) => l.startsWith("{")));
  let logged = 0;
  // Drains the writer's lines in the background, keeping the newest step logged.
  w.next((l) => {
    if (l.startsWith("{")) logged = JSON.parse(l).step ?? logged;
    return false;
  }, 3_600_000).catch(() => {});
  const context = await phoneContext(browser, dashboard.url);
  // document.visibilityState under the test's control (a hidden tab, without freezing the page).
  await context.addInitScript(() => {
    let state = "visible";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
    window.__tfwSetVisibility = (s) => {
      state = s;
      document.dispatchEvent(new Event("visibilitychange"));
    };
    localStorage.setItem("tfw:view", "batches");
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  const facts = { run: name, batches_per_s: per * 20, hidden_s: HIDDEN_S, visible_s: VISIBLE_S };
  try {
    await page.goto(`${dashboard.url}/s/${created.id}?debug`);
    await page.waitForSelector('body[data-listeners="attached"]');
    await page.waitForFunction((f) => {
      const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
      const x = c?.uplot?.data[0];
      return x && x.length && x[x.length - 1] > f;
    }, from, { timeout: 120_000 });

    // Visible: what watching costs.
    let r0 = await readDocs(page);
    await sleep(VISIBLE_S * 1000);
    facts.reads_visible = (await readDocs(page)) - r0;
    assert.ok(facts.reads_visible > 0, "a visible page receives the live run");

    // Hidden: nothing changes for 30 s, then every listener goes.
    const hiddenAt = Date.now();
    await page.evaluate(() => window.__tfwSetVisibility("hidden"));
    await page.waitForSelector('body[data-listeners="detached"]', { state: "attached", timeout: (DETACH_S + 30) * 1000 });
    facts.detached_after_s = (Date.now() - hiddenAt) / 1000;
    assert.ok(facts.detached_after_s >= DETACH_S - 1, `detached after ${facts.detached_after_s} s`);
    const stepAtDetach = logged;
    const before = await lossChart(page);
    r0 = await readDocs(page);
    await sleep(HIDDEN_S * 1000);
    facts.reads_hidden = (await readDocs(page)) - r0;
    facts.steps_logged_while_hidden = logged - stepAtDetach;
    assert.ok(facts.steps_logged_while_hidden > 10 * per * HIDDEN_S, "the writer kept logging");
    assert.equal(facts.reads_hidden, 0, "documents received while hidden");
    // The charts keep what they hold, unchanged.
    assert.deepEqual(await lossChart(page), before);

    // Shown: listeners again, and the charts reach the newest point the writer had logged.
    const target = logged;
    r0 = await readDocs(page);
    const by0 = await readsBy(page);
    const shownAt = Date.now();
    await page.evaluate(() => window.__tfwSetVisibility("visible"));
    await page.waitForSelector('body[data-listeners="attached"]', { state: "attached" });
    await page.waitForFunction((t) => {
      const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
      const x = c?.uplot?.data[0];
      return x && x.length && x[x.length - 1] >= t;
    }, target, { timeout: 10_000 });
    facts.catch_up_s = (Date.now() - shownAt) / 1000;
    facts.reads_return = (await readDocs(page)) - r0;
    await sleep(3000); // and what follows the catch-up (parts read after the tail drew)
    facts.reads_return_settled = (await readDocs(page)) - r0;
    const after = await lossChart(page);
    // The run still starts where it did (a summarised run may have moved to a coarser level).
    if (raw) assert.equal(after.x0, before.x0, "the points held before the hide are kept");
    else assert.ok(after.x0 < before.x1 && after.n > 0, "the run is drawn from its start");
    if (raw) assert.equal(after.n, after.x1 - after.x0 + 1, "no step missing after the return");
    const by1 = await readsBy(page);
    facts.return_by_collection = Object.fromEntries(Object.entries(by1).map(([k, v]) => [k, v - (by0[k] ?? 0)]).filter(([, v]) => v));
    assert.deepEqual(errors, []);
  } finally {
    writeFileSync(join(artifacts, `e2e-hidden-reads-${name}.json`), `${JSON.stringify(facts, null, 2)}\n`);
    console.log("hidden page:", JSON.stringify(facts));
    await context.close();
    await w.stop();
  }
}

describe("a hidden page", () => {
  test("detaches after 30 s, receives nothing while hidden, and catches up when shown (raw chunks)", async () => {
    await hideAndShow("raw", { per: 1, from: 20, raw: true });
  });

  test("the same on a run read through its summaries (over 10,000 steps)", async () => {
    await hideAndShow("summaries", { per: 50, from: 12_000, raw: false });
  });
});
