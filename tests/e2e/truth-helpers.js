// Fixtures for truth.test.js and screenshots.test.js (issue #21): a dashboard server on the build
// in TFW_DIST (else hosting/dist) and sessions written by truth_writer.py.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { dist, emulatorAddress, freePort, python, repo } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));

/** A child whose stdout lines are JSON events: `next(pred)`, `stop()`. */
export function child(args, opts = {}) {
  const c = spawn(python(), args, { cwd: here, env: process.env, stdio: ["pipe", "pipe", "pipe"], ...opts });
  let stderr = "";
  c.stderr.on("data", (d) => { stderr = (stderr + d).slice(-20000); });
  const lines = [];
  const waiters = [];
  let closed = false;
  createInterface({ input: c.stdout })
    .on("line", (l) => { lines.push(l); waiters.splice(0).forEach((w) => w()); })
    .on("close", () => { closed = true; waiters.splice(0).forEach((w) => w()); });
  let read = 0;
  async function next(pred, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (read < lines.length) {
        const l = lines[read++];
        if (pred(l)) return l;
      }
      if (closed) throw new Error(`${args.join(" ")} ended early\n${stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${args.join(" ")}: timed out\n${stderr}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, left).unref(); });
    }
  }
  const stop = () => new Promise((res) => {
    if (c.exitCode !== null || c.signalCode !== null) return res();
    c.once("exit", () => res());
    try { c.stdin.end(); } catch { /* closed */ }
    setTimeout(() => { try { c.kill("SIGKILL"); } catch { /* gone */ } }, 5000).unref();
  });
  return { next, stop };
}

/** The dashboard server on the build in TFW_DIST (else hosting/dist). */
export async function serve() {
  const port = await freePort();
  const c = child(["-m", "tfwatcher.local.server", "--dist", process.env.TFW_DIST || dist, "--port", String(port),
    "--emulator-port", String(emulatorAddress().port)], { cwd: repo });
  await c.next((l) => l.startsWith("Serving"), 30_000);
  return { url: `http://127.0.0.1:${port}`, stop: c.stop };
}

/** truth_writer.py SCENARIO: resolves once its data is in Firestore, with the session ID. */
export async function written(scenario, url) {
  const w = child([join(here, "truth_writer.py"), scenario, url]);
  const created = JSON.parse(await w.next((l) => l.includes('"created"')));
  await w.next((l) => l.includes('"ready"'));
  return { ...created, stop: w.stop };
}

/** What a chart shows: its x axis title and tick texts, y tick texts, legend rows (label, value, title). */
export function chartText(page, prefix) {
  return page.evaluate((p) => {
    const c = [...window.__tfwCharts].find((x) => x.spec.key.startsWith(p));
    if (!c) return null;
    const u = c.uplot;
    const rows = [...c.el.querySelectorAll(".u-legend .u-series")].filter((r) => !r.hidden).map((r) => ({
      label: r.querySelector(".u-label")?.textContent ?? "",
      value: r.querySelector(".u-value")?.textContent ?? "",
      title: r.title,
      height: r.getBoundingClientRect().height,
    }));
    return {
      xTitle: u.axes[0].label, xTicks: (u.axes[0]._values ?? []).map(String),
      yTicks: (u.axes[1]._values ?? []).map(String), yWidth: u.axes[1]._size, rows, note: c.el.querySelector(".chart-note")?.textContent ?? "",
    };
  }, prefix);
}

