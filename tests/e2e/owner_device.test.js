// Issue 19, item 6: the owner's phone stays the owner. Every run of a session has its own owner
// key, so the phone that opened fit 1's owner link enrols a secret of its own (D) while that key
// is valid (sessions/{sid}/devices/sha256(D)); its later Stops carry D. A loop of five Keras
// fits with one re-used callback (fit_loop.py, a real Python child process) is stopped fit after
// fit from that phone, and from nothing else: a second device that never held a key has no
// Stop and its forged writes are refused by the rules; fit 1's key opened on a fresh device
// during fit 2 enrols nothing and stops nothing. The workspace owner link enrols the device in
// the workspace (workspaces/{wid}/devices/sha256(D)), which stops every run of it. The first
// phone has no crypto.subtle (as on a LAN over plain http), the second has. Nothing is mocked:
// the rules are ../../firestore.rules in the emulator, and each Stop ends a real fit — except
// FCM, the one mock: the workspace test's Notify me takes its token from
// `window.__TFW_TEST_FCM_TOKEN__` (an init script; src/fcm.ts), as FCM is unreachable here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PHONE, attackerPage, eventChild, phoneContext, readCollection, repo, shot, takeCspViolations, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

const CONTRACT = JSON.parse(readFileSync(join(repo, "tfwatcher", "base", "contract.json"), "utf8"));
const C = CONTRACT.collections;
const sha256hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");
const devicesOf = (parent) => readCollection(`${parent}/${C.devices}`);
const controlOf = (sid) => readCollection(`${C.sessions}/${sid}/${C.control}`);
const stopDoc = (run) => CONTRACT.documents.stop.replace("{run}", String(run));

/** fit_loop.py: `next(event, fit)` waits for that JSON line; `find` looks without waiting. */
function startLoop(dashboardUrl, { fits = 5, workspace = false, safetySeconds = 150 } = {}) {
  const args = [join(repo, "tests", "e2e", "fit_loop.py"), dashboardUrl, String(safetySeconds), "--fits", String(fits)];
  if (workspace) args.push("--workspace");
  return eventChild(args, { name: "fit_loop.py", timeoutMs: 90_000 });
}

/** The page shows run `run` running with its Stop button ready (the page follows the session
 * document's `run`: the button names the run it stops). */
async function stopReady(page, run, timeout = 90_000) {
  await page.waitForFunction((r) => {
    const pill = document.querySelector(".pill");
    const stop = document.querySelector('[data-action="stop"]');
    return pill?.getAttribute("data-status") === "running" && stop && !stop.hidden && !stop.disabled
      && stop.dataset.run === String(r) && stop.textContent === "Stop training";
  }, run, { timeout });
}

/** Press Stop and confirm; returns the time of the press (ms). */
async function pressStop(page) {
  const pressedAt = Date.now();
  await page.click('[data-action="stop"]');
  await page.click('[data-action="stop-confirm"]');
  return pressedAt;
}

const local = (page, key) => page.evaluate((k) => localStorage.getItem(k), key);
const waitLocal = (page, key, timeout = 30_000) =>
  page.waitForFunction((k) => localStorage.getItem(k) != null, key, { timeout });

test("a loop of five fits: the phone that opened fit 1's owner link stops every one; a device that never held a key cannot; fit 1's key on a fresh device cannot stop fit 2", { timeout: 600_000 }, async () => {
  const loop = startLoop(dashboard.url, { fits: 5 });
  const phone = await phoneContext(browser, dashboard.url);
  // This phone has no crypto.subtle, like a phone on the LAN over plain http (local mode):
  // the dashboard's own SHA-256 must give the hashes the rules and the writer compute.
  await phone.addInitScript(() => Object.defineProperty(Crypto.prototype, "subtle", { get: () => undefined, configurable: true }));
  const stranger = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, bypassCSP: true });
  const fresh = await phoneContext(browser, dashboard.url);
  try {
    const created = await loop.next("created", undefined, 120_000);
    const sid = created.id;
    const session = `${C.sessions}/${sid}`;
    const page = await phone.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(created.owner_url);
    const started1 = await loop.next("fit_started", 1);
    assert.equal(started1.owner_key, created.owner_key);
    await stopReady(page, 1);
    assert.equal(await page.evaluate(() => typeof crypto.subtle), "undefined");

    // Fit 1: the phone holds this run's key and enrols its own secret D, proven with it.
    await waitLocal(page, `tfw:device-enrolled:${sid}`);
    const D = await local(page, "tfw:device");
    assert.match(D, /^[A-Za-z0-9_-]{43}$/);
    const dh = sha256hex(D);
    const enrolled = await devicesOf(session);
    assert.deepEqual(Object.keys(enrolled), [dh]);
    assert.deepEqual(Object.keys(enrolled[dh]).sort(), ["at", "proof"]);
    assert.equal(enrolled[dh].proof, sha256hex(`${created.owner_key}:${dh}`));
    assert.ok(!JSON.stringify(enrolled).includes(D) && !JSON.stringify(enrolled).includes(created.owner_key));

    const keys = new Set();
    for (let k = 1; k <= 5; k++) {
      const started = await loop.next("fit_started", k, 120_000);
      assert.equal(started.run, k);
      assert.ok(!keys.has(started.owner_key), `run ${k} has a key of its own`);
      keys.add(started.owner_key);
      // The phone was never given run k's link: it follows the session document to run k.
      await stopReady(page, k);

      if (k === 2) {
        // A second device that never held a key: no Stop button at all.
        const viewer = await stranger.newPage();
        await viewer.goto(created.share_url);
        await viewer.waitForSelector('.pill[data-status="running"]', { timeout: 60_000 });
        await viewer.waitForSelector(".session .status-card", { timeout: 30_000 });
        assert.equal(await viewer.locator('[data-action="stop"]').count(), 0, "a viewer has no Stop");
        assert.equal(await viewer.locator("[data-owner-controls]").isVisible(), false);
        await viewer.close();

        // Its forged writes: a secret of its own, the phone's dh, fit 1's key, enrolments
        // proven with fit 1's key (its own, and the phone's again): all refused by the rules.
        const attacker = await attackerPage(stranger, created.share_url);
        const own = randomBytes(32).toString("base64url");
        const forged = [
          [`${session}/${C.control}/${stopDoc(2)}`, { key: own, run: 2 }],
          [`${session}/${C.control}/${stopDoc(2)}`, { key: dh, run: 2 }],
          [`${session}/${C.control}/${stopDoc(2)}`, { key: created.owner_key, run: 2 }],
          [`${session}/${C.devices}/${sha256hex(own)}`, { proof: sha256hex(`${created.owner_key}:${sha256hex(own)}`) }],
          [`${session}/${C.devices}/${dh}`, { proof: sha256hex(`${created.owner_key}:${dh}`) }],
        ];
        for (const [path, data] of forged) {
          const outcome = await attacker.evaluate(([p, d]) => window.__attack("set", p, { ...d, at: "SERVER_TIME" }), [path, data]);
          assert.equal(outcome, "permission-denied", `${path} ${JSON.stringify(data)}`);
        }
        await attacker.close();

        // Fit 1's owner link (a notebook saved during fit 1) opened on a fresh device during
        // fit 2: the page holds a key, so it offers Stop; the rules refuse the enrolment and the
        // stop, and the page says why.
        const stale = await fresh.newPage();
        const staleErrors = [];
        stale.on("pageerror", (e) => staleErrors.push(e));
        await stale.goto(created.owner_url);
        await stopReady(stale, 2);
        await pressStop(stale);
        const msg = stale.locator('[data-stop-message][data-kind="error"]');
        await msg.waitFor({ state: "visible", timeout: 30_000 });
        const said = await msg.textContent();
        assert.match(said, /this device is not an owner of this run/);
        assert.doesNotMatch(said, /already/i);
        await stopReady(stale, 2); // the button is back; nothing was sent
        await shot(stale, "e2e-owner-device-stale-key-refused-360x640");
        assert.equal(await local(stale, `tfw:device-enrolled:${sid}`), null, "the fresh device did not enrol");
        assert.deepEqual(Object.keys(await devicesOf(session)), [dh], "only the phone is enrolled");
        assert.deepEqual(Object.keys(await controlOf(sid)).sort(), [stopDoc(1)], "no stop for run 2 yet");
        assert.equal(loop.find("returned", 2), null, "fit 2 runs on");
        assert.deepEqual(staleErrors, []);
        await stale.close();
      }

      const pressed = await pressStop(page);
      const returned = await loop.next("returned", k, 60_000);
      assert.equal(returned.safety, false, `the safety net ended fit ${k}, not the phone's Stop`);
      assert.equal(returned.run, k);
      const ms = returned.time * 1000 - pressed;
      console.log(`# fit ${k} returned ${ms.toFixed(0)} ms after the phone's Stop`);
      assert.ok(ms < 5000, `fit ${k} returned ${ms.toFixed(0)} ms after Stop`);
      const stop = (await controlOf(sid))[stopDoc(k)];
      assert.equal(stop.run, k);
      // Run 1 with its own key (still valid); runs 2..5 with the device's secret.
      assert.equal(stop.key, k === 1 ? created.owner_key : D, `the secret that stopped run ${k}`);
    }
    assert.equal((await loop.next("flushed")).status, "stopped");
    await page.waitForSelector('.pill[data-status="stopped"]', { timeout: 60_000 });
    await shot(page, "e2e-owner-device-five-fits-stopped-360x640");
    assert.deepEqual(Object.keys(await controlOf(sid)).sort(), [1, 2, 3, 4, 5].map(stopDoc).sort());
    assert.deepEqual(Object.keys(await devicesOf(session)), [dh], "one enrolment for the five runs");
    assert.deepEqual(errors, []);
    assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
  } finally {
    await phone.close();
    await stranger.close();
    await fresh.close();
    await loop.stop();
  }
});

test("the workspace owner link enrols the device in the workspace: it stops each run of it (with the workspace key, and with D alone) and subscribes as their owner with D's enrolment; the read-only workspace link has no Stop", { timeout: 400_000 }, async () => {
  const loop = startLoop(dashboard.url, { fits: 2, workspace: true });
  const phone = await phoneContext(browser, dashboard.url);
  const TOKEN = "e2e-owner-device-token:APA91b" + "d".repeat(120);
  await phone.grantPermissions(["notifications"], { origin: dashboard.url });
  await phone.addInitScript((t) => { window.__TFW_TEST_FCM_TOKEN__ = t; }, TOKEN);
  const viewer = await phoneContext(browser, dashboard.url);
  try {
    const created = await loop.next("created", undefined, 120_000);
    const { id: sid, workspace: wid, workspace_key: wkey } = created;
    assert.ok(wid && wkey);
    const page = await phone.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${dashboard.url}/w/${wid}#k=${wkey}`);
    await waitLocal(page, `tfw:device-enrolled:${wid}`);
    const D = await local(page, "tfw:device");
    const dh = sha256hex(D);
    const enrolled = await devicesOf(`${C.workspaces}/${wid}`);
    assert.deepEqual(Object.keys(enrolled), [dh]);
    assert.equal(enrolled[dh].proof, sha256hex(`${wkey}:${dh}`));

    // The run appears in the list when it starts; the phone opens it from there (it never saw
    // the run's own owner link).
    await loop.next("fit_started", 1, 120_000);
    const run = page.locator(`.ws-list a[data-run="${sid}"]`);
    await run.waitFor({ timeout: 60_000 });
    await run.click();
    await page.waitForURL(new RegExp(`/s/${sid}$`));
    await stopReady(page, 1);
    assert.equal(await page.locator('[data-action="forget-owner"]').isVisible(), false,
      "no session key here to forget (the workspace's is forgotten on the home page)");
    await shot(page, "e2e-owner-device-workspace-run-stop-360x640");
    const pressed = await pressStop(page);
    const returned1 = await loop.next("returned", 1, 60_000);
    assert.equal(returned1.safety, false);
    console.log(`# workspace run 1 returned ${(returned1.time * 1000 - pressed).toFixed(0)} ms after Stop`);
    assert.equal((await controlOf(sid))[stopDoc(1)].key, wkey, "run 1: the workspace owner key");

    // Fit 2 (a new run key nobody showed the phone). The read-only workspace link: no Stop.
    await loop.next("fit_started", 2, 120_000);
    const look = await viewer.newPage();
    await look.goto(`${dashboard.url}/w/${wid}`);
    await look.locator(`.ws-list a[data-run="${sid}"]`).click();
    await look.waitForSelector('.pill[data-status="running"]', { timeout: 60_000 });
    await look.waitForSelector(".session .status-card");
    assert.equal(await look.locator('[data-action="stop"]').count(), 0, "the read-only workspace link has no Stop");
    assert.equal(await local(look, `tfw:device-enrolled:${wid}`), null);

    // The phone without the workspace key (removed from this device): its secret D, enrolled
    // in the workspace, is what stops run 2 (the rules and the writer both check it).
    await page.evaluate((w) => localStorage.removeItem(`tfw:owner:${w}`), wid);
    await page.reload();
    await stopReady(page, 2);
    // Notify me there: no key at all on this device for run 2 or its workspace, but the
    // workspace enrolment proves it an owner: o-{sha256(P:token)} with device: dh, where P is
    // the enrolment's proof (firestore.rules, isDeviceProof), counted on counters/owners.
    await page.click('[data-action="notify"]');
    await page.locator("[data-notify-message]").waitFor({ state: "visible", timeout: 30_000 });
    const subId = `o-${sha256hex(`${enrolled[dh].proof}:${TOKEN}`)}`;
    assert.match(await page.locator("[data-notify-message]").textContent(), /You'll get a notification/);
    const subs = await readCollection(`${C.sessions}/${sid}/${C.subscribers}`);
    assert.deepEqual(Object.keys(subs), [subId]);
    assert.deepEqual(Object.keys(subs[subId]).sort(), ["created", "device", "kind", "lang", "token"]);
    assert.equal(subs[subId].device, dh);
    assert.ok(!JSON.stringify(subs).includes(D) && !JSON.stringify(subs).includes(wkey));
    assert.deepEqual(await readCollection(`${C.sessions}/${sid}/${C.counters}`), { owners: { n: 1, last: subId } });
    await pressStop(page);
    const returned2 = await loop.next("returned", 2, 60_000);
    assert.equal(returned2.safety, false);
    assert.equal((await controlOf(sid))[stopDoc(2)].key, D, "run 2: the device's secret");
    assert.equal((await loop.next("flushed")).status, "stopped");
    assert.deepEqual(Object.keys(await devicesOf(`${C.sessions}/${sid}`)), [], "no session enrolment was needed");
    assert.deepEqual(errors, []);
    assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
  } finally {
    await phone.close();
    await viewer.close();
    await loop.stop();
  }
});
