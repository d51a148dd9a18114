// Fixtures for truth.test.js and screenshots.test.js (issue #21): a dashboard server on the build
// in TFW_DIST (else hosting/dist) and sessions written by truth_writer.py.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { child, dist, emulatorAddress, freePort, repo } from "./helpers.js";

export { child };

const here = dirname(fileURLToPath(import.meta.url));

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

/** chartText once `ready(text)` holds (a chart redraws a frame after its options change:
 * read what a person sees once it is there), else the last reading after `timeoutMs`. */
export async function chartTextWhen(page, prefix, ready, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let text = await chartText(page, prefix);
  while (!(text && ready(text)) && Date.now() < deadline) {
    await page.waitForTimeout(100);
    text = await chartText(page, prefix);
  }
  return text;
}
