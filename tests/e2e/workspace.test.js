// The workspace page (issue 19 item 2) in Chromium at 360×640: run index documents written by
// seed_workspace.py (server credentials, the docs/schema.md shape) into the emulator that runs
// ../../firestore.rules; the page reads them as a browser with only the workspace ID.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { child, phoneContext, seed, shot, takeCspViolations, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });
afterEach(() => assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations"));

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\u202Eexe.txt';
const LONG = `${"very_long_experiment_name_".repeat(8)}THE_END`;
// Runs of the first workspace, by key; times in seconds before now.
const SPECS = {
  fresh: { name: "resnet fresh", status: "running", started_ago: 60, updated_ago: 2 },
  stalled: { name: "bert stalled", status: "running", started_ago: 900, updated_ago: 600, heartbeat_every: 10 },
  slow: { name: "slow heartbeat", status: "running", started_ago: 1200, updated_ago: 600, heartbeat_every: 300 },
  older: { name: "resnet older", status: "running", started_ago: 1800, updated_ago: 3 },
  crashed: { name: "vit crashed", status: "crashed", started_ago: 120, loss: 2.5, val_loss: null },
  hostile: { name: HOSTILE, status: "finished", started_ago: 300 },
  long: { name: LONG, status: "stopped", started_ago: 400 },
  unnamed: { status: "finished", started_ago: 3600, loss: null, val_loss: null, spark: [] },
};
// Active first (newest first), then the others (newest first).
const ORDER = ["fresh", "stalled", "slow", "older", "crashed", "hostile", "long", "unnamed"];

let seeder;
let ws;
const sid = {};
before(async () => {
  seeder = child(["seed_workspace.py", "serve"]);
  ws = await ask({ op: "workspace", runs: Object.values(SPECS) });
  Object.keys(SPECS).forEach((k, i) => { sid[k] = ws.sids[i]; });
});
after(async () => { await seeder?.stop(); });

async function ask(cmd) {
  seeder.stdin.write(`${JSON.stringify(cmd)}\n`);
  return JSON.parse(await seeder.next((l) => l.startsWith("{")));
}

async function openWorkspace(wid = ws.wid, { debug = false, context } = {}) {
  const ctx = context ?? await phoneContext(browser, dashboard.url);
  const page = await ctx.newPage();
  await page.goto(`${dashboard.url}/w/${wid}${debug ? "?debug" : ""}`);
  await page.waitForSelector(".ws-list li[data-sid]", { timeout: 30_000 });
  return { context: ctx, page };
}
const listed = (page) => page.$$eval(".ws-list li[data-sid]", (els) => els.map((e) => e.dataset.sid));

test("every run, active first then newest, with the session page's stall judgement; names stay text", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.waitForFunction((n) => document.querySelectorAll(".ws-list li[data-sid]").length === n, ORDER.length);
    assert.deepEqual(await listed(page), ORDER.map((k) => sid[k]));
    const status = (k) => page.getAttribute(`li[data-sid="${sid[k]}"] .pill`, "data-status");
    assert.equal(await status("fresh"), "running");
    assert.equal(await status("stalled"), "stalled"); // silent 10 min, heartbeat 10 s
    assert.equal(await status("slow"), "running"); // silent 10 min, but declared heartbeat 300 s: 15 min allowed
    assert.equal(await status("crashed"), "crashed");
    const item = (k) => page.locator(`li[data-sid="${sid[k]}"]`);
    assert.equal(await item("fresh").locator(".ws-meta").textContent(), "epoch 3/10 · step 120/500 · started 1 min ago");
    assert.match(await item("stalled").locator(".ws-meta").textContent(), /silent 10 min/);
    assert.equal(await item("crashed").locator(".ws-loss").textContent(), "loss 2.5");
    // An unnamed run goes by its grouped ID.
    assert.equal(await item("unnamed").locator(".ws-name").textContent(), sid.unnamed.match(/.{6}/g).join("-"));
    assert.equal(await item("unnamed").locator(".ws-loss").textContent(), "no loss yet");
    assert.equal(await item("fresh").locator(".spark path").count(), 1);
    assert.match(await item("fresh").locator(".spark path").getAttribute("d"), /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){31}$/);
    assert.equal(await item("unnamed").locator(".spark path").count(), 0);

    // Untrusted names: text, control characters visible, nothing parsed or run.
    const hostile = item("hostile").locator(".ws-name");
    const visible = HOSTILE.replace("\u202E", "⟨U+202E⟩");
    assert.equal(await hostile.getAttribute("title"), visible);
    const text = await hostile.textContent(); // cut in the middle: it is long
    assert.ok(text.startsWith('<img src=x onerror="window.') && text.endsWith("</script>⟨U+202E⟩exe.txt"), text);
    assert.equal(await page.locator(".ws-list img, .ws-list script").count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    // A long name is cut in the middle; all of it in the title.
    const long = item("long").locator(".ws-name");
    const shown = await long.textContent();
    assert.ok(shown.length < LONG.length && shown.includes("…") && shown.endsWith("THE_END"), shown);
    assert.equal(await long.getAttribute("title"), LONG);
    await shot(page, "e2e-workspace-360x640");

    // The page fits the phone: no sideways scrolling.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  } finally {
    await context.close();
  }
});

test("a new run appears within 3 s of its index document, without a reload", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.evaluate(() => { window.__sameDocument = true; });
    const t0 = Date.now();
    const { sid: added } = await ask({ op: "run", wid: ws.wid, name: "just started", status: "new", started_ago: 0, updated_ago: 0 });
    await page.waitForSelector(`li[data-sid="${added}"]`, { timeout: 3000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 3000, `appeared after ${ms} ms`);
    assert.equal((await listed(page))[0], added, "the newest active run is first");
    assert.equal(await page.getAttribute(`li[data-sid="${added}"] .pill`, "data-status"), "new");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
    console.log(`# new run shown ${ms} ms after the write was sent`);
  } finally {
    await context.close();
  }
});

test("filter by status and search by name, over the runs loaded", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.selectOption("#ws-filter", "stalled");
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 1);
    assert.deepEqual(await listed(page), [sid.stalled]);
    assert.match(await page.locator("#ws-filter option[value=stalled]").textContent(), /Stalled \(1\)/);
    assert.match(await page.locator(".ws-note").textContent(), /1 of \d+ loaded runs match — filter and search look at the runs loaded so far/);

    await page.selectOption("#ws-filter", "running");
    await page.fill("#ws-search", "RESNET");
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 2);
    assert.deepEqual(await listed(page), [sid.fresh, sid.older]);

    await page.selectOption("#ws-filter", "all");
    await page.fill("#ws-search", "nothing like this");
    await page.waitForSelector(".ws-empty:not([hidden])");
    assert.equal(await page.locator(".ws-empty").textContent(), "No loaded run matches.");
    await page.fill("#ws-search", "");
    await page.waitForFunction((n) => document.querySelectorAll(".ws-list li[data-sid]").length >= n, ORDER.length);
  } finally {
    await context.close();
  }
});

test("select two runs and open them in compare; at most five", async () => {
  const { context, page } = await openWorkspace();
  try {
    const compare = page.locator('#header-action [data-action="compare"]');
    assert.equal(await compare.isDisabled(), true);
    await page.check(`input[data-compare="${sid.fresh}"]`);
    assert.equal(await compare.isDisabled(), true, "one run is not a comparison");
    await page.check(`input[data-compare="${sid.crashed}"]`);
    assert.equal(await compare.textContent(), "Compare (2)");
    for (const k of ["stalled", "slow", "older"]) await page.check(`input[data-compare="${sid[k]}"]`);
    assert.equal(await page.isDisabled(`input[data-compare="${sid.long}"]`), true, "a sixth cannot be picked");
    for (const k of ["stalled", "slow", "older"]) await page.uncheck(`input[data-compare="${sid[k]}"]`);
    await compare.click();
    await page.waitForURL(/\/compare\?ids=/);
    assert.equal(new URL(page.url()).searchParams.get("ids"), `${sid.fresh},${sid.crashed}`);
    await page.waitForFunction(() => document.querySelectorAll(".compare-legend [data-sid]").length === 2);
  } finally {
    await context.close();
  }
});

test("a tap opens the run; its page links back to the workspace, and only there", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.click(`li[data-sid="${sid.fresh}"] a.ws-run`);
    await page.waitForURL(new RegExp(`/s/${sid.fresh}$`));
    assert.ok(!page.url().includes(ws.wid), "the session's address never names its workspace");
    await page.waitForSelector('.pill[data-status="running"]');
    const back = page.locator('#header-action a[data-back="workspace"]');
    assert.equal(await back.getAttribute("href"), `/w/${ws.wid}`);
    await shot(page, "e2e-workspace-session-back-360x640");
    await back.click();
    await page.waitForURL(new RegExp(`/w/${ws.wid}$`));
    await page.waitForSelector(`li[data-sid="${sid.fresh}"]`);

    // A session never opened from a workspace on this device: no back link.
    const other = await seed("stalled");
    await page.goto(`${dashboard.url}/s/${other}`);
    await page.waitForSelector('.pill[data-status="stalled"]');
    assert.equal(await page.locator('a[data-back="workspace"]').count(), 0);
    // Nor on another device that opens the run's own link.
    const { context: c2, page: p2 } = await (async () => {
      const c = await phoneContext(browser, dashboard.url);
      const p = await c.newPage();
      await p.goto(`${dashboard.url}/s/${sid.fresh}`);
      await p.waitForSelector('.pill[data-status="running"]');
      return { context: c, page: p };
    })();
    assert.equal(await p2.locator('a[data-back="workspace"]').count(), 0);
    await c2.close();
  } finally {
    await context.close();
  }
});

test("the owner link keeps its key on the device, out of the address bar", async () => {
  const context = await phoneContext(browser, dashboard.url);
  const page = await context.newPage();
  try {
    await page.goto(`${dashboard.url}/w/${ws.wid}#k=owner-key-AbC_123`);
    await page.waitForSelector(".ws-list li[data-sid]");
    assert.equal(new URL(page.url()).hash, "");
    assert.equal(await page.evaluate((w) => localStorage.getItem(`tfw:owner:${w}`), ws.wid), "owner-key-AbC_123");
    assert.match(await page.locator(".ws-head h1").textContent(), /owner/);
    // A grouped, upper-case ID opens the same workspace at its canonical address.
    const grouped = `W-${ws.wid.slice(1, 7)}-${ws.wid.slice(7, 13)}-${ws.wid.slice(13)}`.toUpperCase();
    await page.goto(`${dashboard.url}/w/${grouped}`);
    await page.waitForURL(new RegExp(`/w/${ws.wid}$`));
    await page.goto(`${dashboard.url}/w/not-a-workspace`);
    await page.waitForSelector('[data-state="malformed"]');
  } finally {
    await context.close();
  }
});

test("the installed app opens on the last workspace used; home shows it first", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.goto(`${dashboard.url}/`);
    const card = page.locator(`.home-workspace a[data-workspace="${ws.wid}"]`);
    await card.waitFor();
    assert.equal(await card.getAttribute("href"), `/w/${ws.wid}`);
    await shot(page, "e2e-workspace-home-360x640");
    // A launch of the installed app (standalone display, or the start URL's ?source=pwa).
    await page.goto(`${dashboard.url}/?source=pwa`);
    await page.waitForURL(new RegExp(`/w/${ws.wid}$`));
    await page.waitForSelector(".ws-list li[data-sid]");
    // The home link inside the app goes home, without bouncing back.
    await page.click("a.brand");
    await page.waitForSelector(".home-workspace");
    assert.equal(new URL(page.url()).pathname, "/");
    // The home form opens a workspace by its ID too.
    await page.fill("#sid", `w-${ws.wid.slice(1, 7)} ${ws.wid.slice(7)}`);
    await page.click(".open-form button[type=submit]");
    await page.waitForURL(new RegExp(`/w/${ws.wid}$`));
  } finally {
    await context.close();
  }
});

test("a large workspace opens with one page of reads; Show more loads the next page", async () => {
  const big = await ask({ op: "workspace", count: 120, active: 3, sessions: false });
  const { context, page } = await openWorkspace(big.wid, { debug: true });
  try {
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 50);
    await page.waitForLoadState("networkidle", { timeout: 5000 }).catch(() => {});
    const reads0 = await page.evaluate(() => window.__tfwReads.docs);
    assert.equal(reads0, 53, "opening reads the 50 newest and the 3 active runs");
    assert.deepEqual(await listed(page), big.sids.slice(0, 50));
    assert.match(await page.locator(".ws-note").textContent(), /50 runs · older runs not loaded yet/);
    await page.click('[data-action="more"]');
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 100);
    assert.equal(await page.evaluate(() => window.__tfwReads.docs) - reads0, 50);
    await page.click('[data-action="more"]');
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 120);
    await page.waitForSelector('[data-action="more"]', { state: "hidden" });
    assert.deepEqual(await listed(page), big.sids);
    // Search covers what is loaded, now all 120.
    await page.fill("#ws-search", "run 00119");
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 1);
  } finally {
    await context.close();
  }
});

test("offline, a workspace opened before shows its saved list", async () => {
  const { context, page } = await openWorkspace();
  try {
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
    const before = await listed(page);
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector(".ws-list li[data-sid]", { timeout: 30_000 });
    await page.waitForSelector("#banner:not([hidden])");
    assert.match(await page.locator("#banner").textContent(), /Offline — showing saved runs/);
    assert.deepEqual((await listed(page)).sort(), [...before].sort());
    await shot(page, "e2e-workspace-offline-360x640");
    // A workspace never opened here: a clear offline state.
    await page.goto(`${dashboard.url}/w/w${"2".repeat(18)}`);
    await page.waitForSelector('[data-state="offline"]', { timeout: 30_000 });
  } finally {
    await context.setOffline(false).catch(() => {});
    await context.close();
  }
});

test("live changes: a run that ends moves down; an old active run's end is read once; runs pushed off the first page stay", async () => {
  // 60 ended runs and one active run older than all of them: it is in the active query only.
  const w = await ask({ op: "workspace", count: 60, active: 0, sessions: false,
    runs: [{ name: "ancient but running", status: "running", started_ago: 10_000_000, updated_ago: 2 }] });
  const ancient = w.sids[0];
  const { context, page } = await openWorkspace(w.wid, { debug: true });
  try {
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 51);
    assert.equal((await listed(page))[0], ancient, "the active run first, however old");
    // It ends: it leaves the active query, and is read once to learn how it ended.
    const reads = await page.evaluate(() => window.__tfwReads.docs);
    await ask({ op: "update", wid: w.wid, sid: ancient, status: "crashed" });
    await page.waitForSelector(`li[data-sid="${ancient}"] .pill[data-status="crashed"]`, { timeout: 5000 });
    assert.equal((await listed(page)).at(-1), ancient, "ended, it sorts by its start: last");
    assert.equal(await page.evaluate(() => window.__tfwReads.docs) - reads, 1);
    // A new run pushes the 50th newest out of the first page's listener: it stays listed.
    const { sid: added } = await ask({ op: "run", wid: w.wid, name: "newcomer", status: "running", started_ago: 0, updated_ago: 0 });
    await page.waitForSelector(`li[data-sid="${added}"]`, { timeout: 3000 });
    await page.waitForFunction(() => document.querySelectorAll(".ws-list li[data-sid]").length === 52);
    assert.ok((await listed(page)).includes(w.sids[50]), "the run pushed off the first page is still listed");
    // A running run that finishes while watched: its status changes in place and it moves below the active ones.
    await ask({ op: "update", wid: w.wid, sid: added, status: "finished" });
    await page.waitForSelector(`li[data-sid="${added}"] .pill[data-status="finished"]`, { timeout: 3000 });
    assert.equal((await listed(page))[0], added, "the newest run, now ended, is still first (no run is active)");
  } finally {
    await context.close();
  }
});
