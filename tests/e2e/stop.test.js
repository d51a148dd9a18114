// Issue #6, remote stop: the owner link's Stop button ends a real Keras fit (a Python child
// process) through Firestore; a viewer link has no Stop button; a wrong key is refused by the
// rules and the fit keeps running. Issue 12: a stop cannot be replayed: one callback, two fits;
// after the owner stopped fit 1, every keyless write under control/ from a viewer's browser
// Firestore client is refused during fit 2, which runs on until the owner's Stop ends it.
// Nothing is mocked here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  PHONE, attackerPage, eventChild, phoneContext, python, readCollection, repo, shot, startFit, withDashboardAndBrowser,
} from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

const waitStatus = (page, status, timeout = 60_000) =>
  page.waitForSelector(`.pill[data-status="${status}"]`, { timeout });

test("owner link: Stop, confirm, and the fit returns within 2 s; the status turns stopped", { timeout: 240_000 }, async () => {
  const fit = await startFit(dashboard.url);
  const context = await phoneContext(browser, dashboard.url);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs++; void d.dismiss(); });
  try {
    await page.goto(fit.owner_url);
    await waitStatus(page, "running");
    const stop = page.locator('[data-action="stop"]');
    await stop.waitFor({ state: "visible" });
    assert.equal(await stop.textContent(), "Stop training");
    await page.locator('[data-action="notify"]').waitFor({ state: "visible" });
    await shot(page, "e2e-owner-running-stop-notify-360x640");

    // Record every text the Stop button shows, to see "Stopping…" however short it lasts.
    await page.evaluate(() => {
      const b = document.querySelector('[data-action="stop"]');
      window.__stopTexts = [];
      new MutationObserver(() => window.__stopTexts.push(b.textContent)).observe(b, { childList: true, characterData: true, subtree: true });
    });
    const pressedAt = Date.now();
    await stop.click();
    const confirm = page.locator('[data-action="stop-confirm"]');
    await confirm.waitFor({ state: "visible" });
    assert.equal(await stop.isVisible(), false, "the confirmation replaces the button");
    await shot(page, "e2e-owner-stop-confirm-360x640");
    assert.equal(fit.hasReturned(), null, "asking for confirmation stops nothing");
    await confirm.click();

    const returned = await fit.returned();
    const afterMs = returned.time * 1000 - pressedAt;
    assert.equal(returned.safety, false, "the safety net stopped the fit, not the Stop button");
    assert.ok(afterMs < 2000, `fit returned ${afterMs.toFixed(0)} ms after Stop was pressed`);
    console.log(`# fit returned ${afterMs.toFixed(0)} ms after the Stop press (${returned.epochs} epochs run)`);

    await waitStatus(page, "stopped");
    assert.equal(await page.locator(".pill").textContent(), "Stopped");
    assert.ok((await page.evaluate(() => window.__stopTexts)).includes("Stopping…"));
    assert.equal(await stop.isVisible(), false, "no Stop button once stopped");
    assert.equal(await page.locator('[data-action="notify"]').isVisible(), false, "Notify me only while running");
    assert.equal((await fit.flushed()).status, "stopped");
    await shot(page, "e2e-owner-stopped-360x640");
    assert.equal(dialogs, 0, "no window.confirm/alert");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await fit.stop();
  }
});

test("viewer link: no Stop button; a wrong owner key is refused and the fit keeps running", { timeout: 240_000 }, async () => {
  const fit = await startFit(dashboard.url);
  const viewer = await phoneContext(browser, dashboard.url);
  const wrong = await phoneContext(browser, dashboard.url);
  try {
    const page = await viewer.newPage();
    await page.goto(fit.share_url);
    await waitStatus(page, "running");
    await page.locator('[data-action="notify"]').waitFor({ state: "visible" }); // the page is fully up
    assert.equal(await page.locator('[data-action="stop"]').count(), 0);
    assert.equal(await page.locator("[data-owner-controls]").isVisible(), false);
    await shot(page, "e2e-viewer-running-360x640");

    // An owner link with a wrong key: the page's Firestore SDK writes control/stop, the rules
    // refuse it, and the page says so.
    const bad = await wrong.newPage();
    await bad.goto(`${fit.share_url}#k=${"x".repeat(32)}`);
    await waitStatus(bad, "running");
    await bad.click('[data-action="stop"]');
    await bad.click('[data-action="stop-confirm"]');
    const msg = bad.locator('[data-stop-message][data-kind="error"]');
    await msg.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await msg.textContent(), /owner key was not accepted/);
    assert.equal(await bad.locator('[data-action="stop"]').textContent(), "Stop training", "the button is back for a retry");
    await shot(bad, "e2e-wrong-key-denied-360x640");

    // The fit keeps running: no return, status still running on both pages.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(fit.hasReturned(), null, "the fit returned after a refused stop");
    assert.equal(await bad.locator(".pill").getAttribute("data-status"), "running");
    assert.equal(await page.locator(".pill").getAttribute("data-status"), "running");
  } finally {
    await viewer.close();
    await wrong.close();
    await fit.stop();
  }
});

// ---- issue 12: one callback, two fits ------------------------------------------------------

/** fit_until_stopped.py --fits N: `next(event, fit)` waits for that JSON line. */
function startFits(dashboardUrl, fits, safetySeconds = 120) {
  return eventChild([join(repo, "tests", "e2e", "fit_until_stopped.py"), dashboardUrl, String(safetySeconds), "--fits", String(fits)],
    { name: "fit process", timeoutMs: 60_000 });
}

/** The owner presses Stop and confirms; returns the time of the press (ms). */
async function pressStop(page) {
  const stop = page.locator('[data-action="stop"]');
  await stop.waitFor({ state: "visible", timeout: 60_000 });
  assert.equal(await stop.textContent(), "Stop training");
  const pressedAt = Date.now();
  await stop.click();
  await page.locator('[data-action="stop-confirm"]').click();
  return pressedAt;
}

test("one callback, two fits: after the owner stopped fit 1, no keyless write under control/ stops fit 2; the owner's Stop does, within 2 s", { timeout: 300_000 }, async () => {
  const fits = startFits(dashboard.url, 2);
  const owner = await phoneContext(browser, dashboard.url);
  const viewer = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, bypassCSP: true });
  try {
    const created = await fits.next("created", undefined, 120_000);
    const sid = created.id;
    const page = await owner.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(created.owner_url);
    await fits.next("fit_started", 1);
    await waitStatus(page, "running");

    // Fit 1: the owner stops it from the owner link.
    const pressed1 = await pressStop(page);
    const returned1 = await fits.next("returned", 1, 60_000);
    assert.equal(returned1.safety, false, "the safety net ended fit 1, not the Stop button");
    assert.equal(returned1.run, 1);
    assert.ok(returned1.time * 1000 - pressed1 < 2000, `fit 1 returned ${(returned1.time * 1000 - pressed1).toFixed(0)} ms after Stop`);

    // Fit 2 starts with the same callback (run 2) and a new owner key: the owner opens the
    // new owner link (the notebook shows it again); the page shows the run going again.
    const started2 = await fits.next("fit_started", 2);
    assert.notEqual(started2.owner_key, created.owner_key, "each run has its own owner key");
    await page.goto("about:blank"); // a real load of the new link, not a fragment change
    await page.goto(started2.owner_url);
    await page.waitForFunction(() => {
      const pill = document.querySelector(".pill");
      const stop = document.querySelector('[data-action="stop"]');
      return pill?.getAttribute("data-status") === "running" && stop && !stop.hidden && stop.textContent === "Stop training";
    }, null, { timeout: 60_000 });
    const control1 = await readCollection(`sessions/${sid}/control`);
    assert.deepEqual(Object.keys(control1), ["stop-1"]);

    // A viewer's browser client with the share link tries every keyless write under control/.
    const attacker = await attackerPage(viewer, created.share_url);
    await waitStatus(attacker, "running");
    const attempts = [
      ["update", `sessions/${sid}/control/stop-1`, { at: "SERVER_TIME" }],
      ["update", `sessions/${sid}/control/stop-1`, { run: 2, at: "SERVER_TIME" }],
      ["set", `sessions/${sid}/control/stop-1`, { at: "SERVER_TIME" }, { merge: true }],
      ["set", `sessions/${sid}/control/stop-1`, { run: 2, at: "SERVER_TIME" }, { merge: true }],
      ["set", `sessions/${sid}/control/stop-2`, { run: 2, at: "SERVER_TIME" }],
      ["set", `sessions/${sid}/control/stop-2`, { key: "x".repeat(32), run: 2, at: "SERVER_TIME" }],
      ["set", `sessions/${sid}/control/stop-2`, { key: "", run: 2, at: "SERVER_TIME" }],
      // fit 1's owner key (a link seen during fit 1) is worth nothing for fit 2
      ["set", `sessions/${sid}/control/stop-2`, { key: created.owner_key, run: 2, at: "SERVER_TIME" }],
      ["set", `sessions/${sid}/control/stop-2`, { run: 2, at: "SERVER_TIME" }, { merge: true }],
      ["set", `sessions/${sid}/control/stop`, { at: "SERVER_TIME" }],
      ["set", `sessions/${sid}/control/stop`, { run: 2, at: "SERVER_TIME" }, { merge: true }],
      ["delete", `sessions/${sid}/control/stop-1`],
      ["get", `sessions/${sid}/control/stop-1`],
    ];
    for (const [op, path, data, opts] of attempts) {
      const outcome = await attacker.evaluate(([o, p, d, x]) => window.__attack(o, p, d, x), [op, path, data, opts]);
      assert.equal(outcome, "permission-denied", `${op} ${path} ${JSON.stringify(data ?? {})} ${JSON.stringify(opts ?? {})}`);
    }
    const control2 = await readCollection(`sessions/${sid}/control`);
    assert.deepEqual(Object.keys(control2), ["stop-1"], "nothing new under control/");
    assert.deepEqual(control2["stop-1"], control1["stop-1"], "stop-1 unchanged");

    // Fit 2 runs on.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(fits.find("returned", 2), null, "fit 2 returned after keyless writes");
    assert.equal(await page.locator(".pill").getAttribute("data-status"), "running");
    await shot(attacker, "e2e-fit2-after-keyless-writes-360x640");

    // The owner's Stop still ends fit 2 within 2 s.
    const pressed2 = await pressStop(page);
    const returned2 = await fits.next("returned", 2, 60_000);
    assert.equal(returned2.safety, false, "the safety net ended fit 2, not the Stop button");
    assert.equal(returned2.run, 2);
    const after2 = returned2.time * 1000 - pressed2;
    assert.ok(after2 < 2000, `fit 2 returned ${after2.toFixed(0)} ms after Stop`);
    console.log(`# fit 1 returned ${(returned1.time * 1000 - pressed1).toFixed(0)} ms, fit 2 ${after2.toFixed(0)} ms after the owner's Stop`);
    assert.equal((await fits.next("flushed")).status, "stopped");
    await waitStatus(page, "stopped");
    const control3 = await readCollection(`sessions/${sid}/control`);
    assert.deepEqual(Object.keys(control3).sort(), ["stop-1", "stop-2"]);
    assert.equal(control3["stop-2"].run, 2);
    assert.deepEqual(errors, []);
  } finally {
    await owner.close();
    await viewer.close();
    await fits.stop();
  }
});

// ---- a session written before `run` ----------------------------------------------------------

/** Writes documents with admin access (rules do not apply), as an older writer left them. */
function writeDocs(docs) {
  const code = [
    "import json, os, sys",
    "from google.cloud import firestore",
    "db = firestore.Client(project=os.environ.get('TFWATCHER_PROJECT') or os.environ['GCLOUD_PROJECT'])",
    "for path, data in json.loads(sys.argv[1]).items():",
    "    data = {k: (firestore.SERVER_TIMESTAMP if v == '$now' else v) for k, v in data.items()}",
    "    db.document(path).set(data)",
  ].join("\n");
  const child = spawn(python(), ["-c", code, JSON.stringify(docs)], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => { err += d; });
  return new Promise((res, rej) => child.once("exit", (c) => (c === 0 ? res() : rej(new Error(err)))));
}

/** A running session document as seeded with rules off (epoch 1, batch 3 of a 10 × 100 plan). */
const liveSession = (fields) => ({
  status: "running", mode: "fit", created: "$now", heartbeat: "$now",
  plan: { epochs: 10, steps: 100 }, progress: { epoch: 1, batch: 3, step: 3 }, metrics: ["loss"],
  latest: [{ name: "loss", value: 0.5 }], error: null, ended: null, nan: false, ...fields,
});

test("a running session from an older writer (no run field): Stop is unavailable, said plainly, and nothing is written", { timeout: 120_000 }, async () => {
  const sid = "k7m2x9q"; // a 7-character ID of the old format
  const key = "Q2hY0c1n_vW3pLx9-RtAeKu7ZmNbD4sF";
  await writeDocs({
    [`sessions/${sid}`]: liveSession({ schema: 1, name: "old writer" }),
    [`sessions/${sid}/private/owner`]: { key },
  });
  const context = await phoneContext(browser, dashboard.url);
  try {
    const page = await context.newPage();
    await page.goto(`${dashboard.url}/s/${sid}#k=${key}`);
    await waitStatus(page, "running", 30_000);
    const note = page.locator("[data-stop-unavailable]");
    await note.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await note.textContent(), /Stop is unavailable for this session: it was started by an older TF Watcher/);
    assert.equal(await page.locator('[data-action="stop"]').isVisible(), false, "no Stop button");
    await shot(page, "e2e-stop-unavailable-old-session-360x640");
    assert.deepEqual(await readCollection(`sessions/${sid}/control`), {});
  } finally {
    await context.close();
  }
});

// ---- issue 20: a crafted link does not replace the owner key kept on this device ----------

test("a crafted #k= link keeps the remembered owner key, says so plainly, and Stop still works; names show hidden characters", { timeout: 120_000 }, async () => {
  const sid = "hk7m2x9q3rstw4vb5n"; // 18 characters of the current format
  const key = "R3hY0c1n_vW3pLx9-RtAeKu7ZmNbD4sG";
  await writeDocs({
    [`sessions/${sid}`]: liveSession({ schema: 2, name: "loss\u202etxt.exe", run: 1 }),
    [`sessions/${sid}/private/owner`]: { key },
  });
  const context = await phoneContext(browser, dashboard.url);
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${dashboard.url}/s/${sid}#k=${key}`);
    await waitStatus(page, "running", 30_000);
    // The bidi override in the run name is shown, not obeyed.
    await page.waitForFunction(() => document.querySelector("h1 .run-name")?.textContent === "loss⟨U+202E⟩txt.exe", null, { timeout: 30_000 });
    const stored = () => page.evaluate((s) => localStorage.getItem(`tfw:owner:${s}`), sid);
    assert.equal(await stored(), key);

    await page.goto("about:blank");
    await page.goto(`${dashboard.url}/s/${sid}#k=anything-crafted-by-someone-else`);
    await waitStatus(page, "running", 30_000);
    assert.equal(await stored(), key, "the crafted link replaced the remembered key");
    const note = page.locator("[data-owner-key-note]");
    await note.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await note.textContent(), /not the one this device remembers/);
    await shot(page, "e2e-owner-key-crafted-link-360x640");

    await pressStop(page);
    const msg = page.locator("[data-stop-message]");
    await page.waitForFunction(() => /Stop sent/.test(document.querySelector("[data-stop-message]")?.textContent ?? ""), null, { timeout: 30_000 });
    assert.equal(await msg.getAttribute("data-kind"), "info");
    const control = await readCollection(`sessions/${sid}/control`);
    assert.deepEqual(Object.keys(control), ["stop-1"]);
    assert.equal(control["stop-1"].key, key);
    assert.equal(await stored(), key);
    assert.equal(await page.evaluate((s) => localStorage.getItem(`tfw:owner-link:${s}`), sid), null, "the refused link key is dropped");
    assert.equal(await note.isVisible(), false);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
