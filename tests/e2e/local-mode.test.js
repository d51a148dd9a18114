// Issue #5: `tfwatcher demo --once` trains the tutorial model on its own emulator and exits;
// `tfwatcher local` started again on the same data folder serves that finished run, which
// Chromium then shows. Ctrl+C (SIGINT) stops everything, leaving nothing listening.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, launch, phoneContext, python, repo, shot, waitForPoints } from "./helpers.js";

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

const listening = (port) => new Promise((res) => {
  const s = connect(port, "127.0.0.1");
  s.once("connect", () => { s.destroy(); res(true); });
  s.once("error", () => res(false));
});

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
  const sid = out.match(/Use this ID to monitor training for this session: (\w{7})/)[1];
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
