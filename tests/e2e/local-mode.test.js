// Issue #5: `tfwatcher demo --once` trains the tutorial model on its own emulator and exits;
// `tfwatcher local` started again on the same data folder serves that finished run, which
// Chromium then shows. Ctrl+C (SIGINT) stops everything, leaving nothing listening.
import { test } from "node:test";
import assert from "node:assert/strict";
//
// Issue #12: `tfwatcher local` on the network, watched as a phone on the Wi-Fi would: the
// "LAN" is a network namespace the test makes (./netns.js: a veth pair; the dashboard binds
// this machine's end, Chromium runs inside the namespace; nothing goes to this machine's real
// interfaces). The emulator is not reachable there (loopback only), the page
// talks to Firestore only through the dashboard server's proxy (every request it makes is
// logged and must be one the proxy forwards), live updates arrive, the owner's Stop ends a
// real Keras fit, and no page breaks the Content-Security-Policy.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  artifacts, freePort, launch, phoneContext, python, repo, shot, startFit, takeCspViolations, waitForPoints,
} from "./helpers.js";
import { createLan } from "./netns.js";

function run(args, env) {
  const child = spawn(python(), ["-m", "tfwatcher.cli", ...args], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { err += d; if (err.length > 20000) err = err.slice(-20000); });
  const exited = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
  return { child, exited, out: () => out, err: () => err };
}

async function waitFor(cond, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** "connected", or the error code of a TCP connect (ECONNREFUSED: nothing listens there). */
const tryConnect = (port, host = "127.0.0.1") => new Promise((res) => {
  const s = connect(port, host);
  s.setTimeout(5000, () => { s.destroy(); res("ETIMEDOUT"); });
  s.once("connect", () => { s.destroy(); res("connected"); });
  s.once("error", (e) => res(e.code));
});
const listening = async (port, host) => (await tryConnect(port, host)) === "connected";

test("demo --once, then local mode serves the finished run from the saved data", { timeout: 300_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), "tfw-local-"));
  const env = { ...process.env, TFWATCHER_HOME: home, TFWATCHER_QR: "1" };
  delete env.FIRESTORE_EMULATOR_HOST;
  delete env.TFWATCHER_PROJECT;
  const data = join(home, "data");
  const [emuPort, webPort] = [await freePort(), await freePort()];
  const common = ["--host", "127.0.0.1", "--data", data, "--emulator-port", String(emuPort), "--port", String(webPort)];

  const demo = run(["demo", "--once", "--epochs", "20", ...common], env);
  const { code } = await demo.exited;
  assert.equal(code, 0, demo.err());
  const out = demo.out();
  const sid = out.match(/Use this ID to monitor training for this session: (\w+)/)[1];
  assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${webPort}/s/${sid}#k=`));
  assert.match(out, /[▀▄█]/, "a QR code is printed");
  assert.ok(!(await listening(emuPort)) && !(await listening(webPort)), "demo --once left a server running");

  const local = run(["local", ...common], env);
  await waitFor(() => local.out().includes("Press Ctrl+C"), "tfwatcher local to start");
  const browser = await launch();
  try {
    const context = await phoneContext(browser, `http://127.0.0.1:${webPort}`);
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${webPort}/s/${sid}`);
    await page.waitForSelector('.pill[data-status="finished"]', { timeout: 60_000 });
    await waitForPoints(page, "m:loss|loss|val_loss", 20);
    await page.click('[data-view="batches"]');
    await waitForPoints(page, "m:loss|", 80);
    await shot(page, "e2e-local-demo-finished-360x640");
  } finally {
    await browser.close();
  }
  local.child.kill("SIGINT");
  const stopped = await local.exited;
  assert.equal(stopped.code, 0, local.err());
  assert.ok(!(await listening(emuPort)) && !(await listening(webPort)), "Ctrl+C left a server running");
});

// What the Firestore JS SDK may ask of the dashboard server (tfwatcher/local/server.py forwards
// exactly these; the test fails if the page ever needs another).
const FORWARDED = [
  /^\/google\.firestore\.v1\.Firestore\/(Listen|Write)\/channel$/,
  /^\/v1\/projects\/demo-tfwatcher\/databases\/\(default\)\/documents(\/[A-Za-z0-9_-]+)*:(batchGet|commit|runQuery|runAggregationQuery)$/,
];
const STATIC = /^\/($|s\/|assets\/|icons\/|favicon\.svg$|manifest\.webmanifest$|sw\.js$|registerSW\.js$|__\/firebase\/init\.json$)/;

test("local mode on the LAN address: emulator on loopback only; live view and Stop through the proxy; no CSP violation", { timeout: 300_000 }, async (t) => {
  const lan = await createLan();
  if (lan.unavailable) {
    t.skip(`the LAN test needs a network namespace of its own: ${lan.unavailable}`);
    return;
  }
  const ip = lan.hostIp;
  try {
    await lanTest(ip, lan);
  } finally {
    await lan.close();
  }
});

async function lanTest(ip, lan) {
  const home = mkdtempSync(join(tmpdir(), "tfw-lan-"));
  const env = { ...process.env, TFWATCHER_HOME: home, TFWATCHER_QR: "0" };
  delete env.FIRESTORE_EMULATOR_HOST; // the fit finds `tfwatcher local` through ~/.tfwatcher/local.json
  delete env.TFWATCHER_PROJECT;
  delete env.GCLOUD_PROJECT;
  const [emuPort, webPort] = [await freePort(), await freePort()];
  const local = run(["local", "--host", ip, "--data", join(home, "data"), "--emulator-port", String(emuPort),
    "--port", String(webPort)], env);
  let browser;
  let fit;
  const api = [];
  try {
    await waitFor(() => local.out().includes("Press Ctrl+C"), "tfwatcher local to start");
    const url = `http://${ip}:${webPort}`;
    // The banner says what the network can reach.
    const out = local.out();
    assert.ok(out.includes(`On the network: the dashboard at ${url}/ (read-only share views, and Stop for those holding an owner link)`), out);
    assert.ok(out.includes(`This machine only: the Firestore emulator at 127.0.0.1:${emuPort}`), out);
    // The emulator answers on loopback only; the dashboard on the LAN address.
    assert.equal(await tryConnect(emuPort, "127.0.0.1"), "connected");
    assert.equal(await lan.tryConnect(ip, emuPort), "ECONNREFUSED", "the emulator is reachable on the LAN address");
    assert.equal(await lan.tryConnect(ip, webPort), "connected");

    fit = await startFit(url, 100, { env });
    assert.ok(fit.share_url.startsWith(`${url}/s/`), fit.share_url);
    browser = await lan.launch(); // the phone: Chromium inside the namespace
    const loopbackContext = await browser.newContext();
    const loopbackPage = await loopbackContext.newPage(); // this machine's loopback is not the namespace's
    await assert.rejects(loopbackPage.goto(`http://127.0.0.1:${webPort}/`), /ERR_CONNECTION_REFUSED/, "Chromium is not inside the namespace");
    await loopbackContext.close();
    const viewerContext = await phoneContext(browser, url);
    const ownerContext = await phoneContext(browser, url);
    for (const context of [viewerContext, ownerContext]) {
      context.on("request", (r) => {
        const u = new URL(r.url());
        if (u.origin === url && !STATIC.test(u.pathname)) {
          api.push({ method: r.method(), path: u.pathname, params: [...new Set(u.searchParams.keys())].sort() });
        } else if (u.origin !== url && !u.protocol.startsWith("data")) {
          api.push({ method: r.method(), path: r.url(), params: [], foreign: true });
        }
      });
      context.on("response", (r) => {
        const u = new URL(r.url());
        if (u.origin === url && r.status() >= 400) api.push({ path: u.pathname, status: r.status() });
      });
    }
    const viewer = await viewerContext.newPage();
    const errors = [];
    viewer.on("pageerror", (e) => errors.push(e));
    await viewer.goto(fit.share_url);
    await viewer.waitForSelector('.pill[data-status="running"]', { timeout: 60_000 });
    // The SDK's emulator host is the dashboard server, as the browser named it.
    const init = await viewer.evaluate(() => fetch("/__/firebase/init.json").then((r) => r.json()));
    assert.deepEqual(init.firestoreEmulator, { host: ip, port: webPort });

    // Live updates: the batch chart keeps growing while the fit runs.
    await viewer.click('[data-view="batches"]');
    const points = () => viewer.evaluate(() => Number(document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") || 0));
    await viewer.waitForFunction(() => Number(document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") || 0) > 0, null, { timeout: 60_000 });
    const before = await points();
    await viewer.waitForFunction((n) => Number(document.querySelector('[data-chart^="m:loss|"]')?.getAttribute("data-points") || 0) > n + 5, before, { timeout: 30_000 });
    assert.equal(await viewer.locator('[data-action="stop"]').count(), 0, "a share link has no Stop");
    await shot(viewer, "e2e-local-lan-viewer-live-360x640");

    // The owner's Stop: a browser write through the proxy ends the fit.
    const owner = await ownerContext.newPage();
    await owner.goto(fit.owner_url);
    await owner.waitForSelector('.pill[data-status="running"]', { timeout: 60_000 });
    await owner.locator('[data-action="stop"]').click();
    await owner.locator('[data-action="stop-confirm"]').click();
    const pressedAt = Date.now();
    const returned = await Promise.race([fit.returned(), new Promise((r) => setTimeout(r, 15_000))]);
    if (!returned) {
      const msg = await owner.locator("[data-stop-message]").textContent().catch(() => "");
      assert.fail(`the fit did not return 15 s after Stop; the page says: ${JSON.stringify(msg)}`);
    }
    assert.equal(returned.safety, false, "the safety net stopped the fit, not the Stop button");
    const afterMs = returned.time * 1000 - pressedAt;
    assert.ok(afterMs < 2000, `fit returned ${afterMs.toFixed(0)} ms after Stop`);
    await owner.waitForSelector('.pill[data-status="stopped"]', { timeout: 30_000 });
    await viewer.waitForSelector('.pill[data-status="stopped"]', { timeout: 30_000 }); // live, on the other phone
    await shot(owner, "e2e-local-lan-owner-stopped-360x640");
    assert.deepEqual(errors, []);

    // Every request the pages made: static files, or exactly what the proxy forwards.
    const seen = [...new Set(api.map((r) => `${r.method ?? ""} ${r.path} ${r.params ? r.params.join(",") : r.status}`))];
    console.log(`# API requests through the dashboard server:\n# ${seen.join("\n# ")}`);
    assert.deepEqual(api.filter((r) => r.foreign), [], "requests to other origins");
    assert.deepEqual(api.filter((r) => r.status), [], "requests the dashboard server refused or failed");
    for (const r of api) assert.ok(FORWARDED.some((re) => re.test(r.path)), `not a forwarded path: ${r.path}`);
    assert.ok(api.some((r) => r.path.endsWith("/Listen/channel")) && api.some((r) => r.path.endsWith("/Write/channel")));

    // No Content-Security-Policy violation on any page; and the check itself works (an
    // inline <style> is one).
    assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
    await viewer.evaluate(() => document.head.append(Object.assign(document.createElement("style"), { textContent: "p{}" })));
    await viewer.waitForTimeout(300);
    const probe = takeCspViolations();
    assert.ok(probe.some((v) => /style-src/.test(v.directive ?? v.console ?? "")), JSON.stringify(probe));
    await fit.flushed();
  } finally {
    writeFileSync(join(artifacts, "e2e-local-lan-requests.json"), JSON.stringify(api, null, 1));
    await browser?.close();
    await fit?.stop();
    local.child.kill("SIGINT");
  }
  const stopped = await local.exited;
  assert.equal(stopped.code, 0, local.err());
  assert.ok(!(await listening(emuPort)) && (await lan.tryConnect(ip, webPort)) === "ECONNREFUSED",
    "Ctrl+C left a server running");
}
