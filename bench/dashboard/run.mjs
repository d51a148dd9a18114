// Dashboard benchmarks (figures and method: docs/dashboard.md).
//
//   (cd hosting && npm ci && npm run build); (cd tests/e2e && npm ci); (cd bench/dashboard && npm ci)
//   PATH=$PWD/.venv/bin:$PATH node bench/dashboard/run.mjs [--runs 5] [--lighthouse-runs 1] [--no-lighthouse]
//
// Starts its own Firestore emulator (python -m tfwatcher.local.emulator) unless FIRESTORE_EMULATOR_HOST
// is set, serves hosting/dist with python -m tfwatcher.local.server, seeds sessions with
// tests/e2e/seed.py, and drives Debian's Chromium (playwright-core from tests/e2e, Lighthouse
// 12.2.3 with chrome-launcher from this folder). Prints a table and writes
// test-artifacts/bench-dashboard.json.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt("--runs", 5);
const LH_RUNS = opt("--lighthouse-runs", 1);
const LIGHTHOUSE = !args.includes("--no-lighthouse");

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const r1 = (x) => Math.round(x * 10) / 10;

async function main() {
  const { launch, seed, emulatorAddress, CHROMIUM_ARGS } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const { startStaticServer } = await import("./server.mjs");
  const results = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version };
  const dashboard = await startStaticServer({ emulatorPort: emulatorAddress().port });
  const browser = await launch();
  try {
    console.error("seeding sessions (2,000 and 100,000 batch points)…");
    const small = await seed("points", 2000);
    const big = await seed("points", 100000);

    // 1. JavaScript on first load of a session page, gzipped as a server would send it.
    {
      const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true });
      const page = await context.newPage();
      const bodies = [];
      page.on("response", async (r) => {
        const type = r.request().resourceType();
        if (type === "script" || type === "stylesheet" || type === "document") {
          bodies.push(r.body().then((b) => ({ url: r.url(), type, raw: b.length, gz: gzipSync(b, { level: 9 }).length })).catch(() => null));
        }
      });
      await page.goto(`${dashboard.url}/s/${small}`);
      await page.waitForFunction(() => performance.getEntriesByName("tfw:first-chart").length > 0, null, { timeout: 60_000 });
      const files = (await Promise.all(bodies)).filter(Boolean);
      const js = files.filter((f) => f.type === "script");
      results.firstLoad = {
        jsFiles: js.map((f) => ({ file: new URL(f.url).pathname, raw: f.raw, gzip: f.gz })),
        jsGzipKB: r1(js.reduce((s, f) => s + f.gz, 0) / 1024),
        jsRawKB: r1(js.reduce((s, f) => s + f.raw, 0) / 1024),
        allGzipKB: r1(files.reduce((s, f) => s + f.gz, 0) / 1024),
      };
      await context.close();
    }
    {
      // Installability as Chrome sees it (Lighthouse 12 dropped its PWA audits). A persistent
      // profile: Chrome never offers to install from an incognito context.
      const { chromium } = await import(join(repo, "tests", "e2e", "node_modules", "playwright-core", "index.mjs"));
      const profile = mkdtempSync(join(tmpdir(), "tfw-bench-"));
      const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS });
      try {
        const page = await context.newPage();
        await page.goto(`${dashboard.url}/s/${small}`);
        await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
        const cdp = await context.newCDPSession(page);
        const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
        const manifest = await cdp.send("Page.getAppManifest");
        results.installability = { errors: installabilityErrors.map((e) => e.errorId), installable: installabilityErrors.length === 0, manifestUrl: manifest.url };
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }

    // 2. Navigation → first chart drawn (performance.mark in charts.ts), 2,000 points.
    {
      const cold = [];
      const warm = [];
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true });
        const page = await context.newPage();
        const mark = async () => {
          await page.waitForFunction(() => performance.getEntriesByName("tfw:first-chart").length > 0, null, { timeout: 60_000 });
          return page.evaluate(() => performance.getEntriesByName("tfw:first-chart")[0].startTime);
        };
        await page.goto(`${dashboard.url}/s/${small}`);
        cold.push(await mark());
        await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
        await page.reload();
        warm.push(await mark());
        await context.close();
      }
      results.firstChart = { points: 2000, coldMs: cold.map(r1), warmMs: warm.map(r1), coldMedianMs: r1(median(cold)), warmMedianMs: r1(median(warm)) };
    }

    // 3. Updating a chart that holds 100,000 points: setData + synchronous draw, in Chromium.
    results.update = [];
    for (const vp of [{ name: "phone 360×640 @2x", width: 360, height: 640, dpr: 2 }, { name: "desktop 1280×800 @1x", width: 1280, height: 800, dpr: 1 }]) {
      const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, deviceScaleFactor: vp.dpr });
      const page = await context.newPage();
      await page.addInitScript(() => localStorage.setItem("tfw:view", "batches"));
      await page.goto(`${dashboard.url}/s/${big}?debug`);
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-chart^="m:loss|"]');
        return el && Number(el.getAttribute("data-points")) === 100000;
      }, null, { timeout: 120_000 });
      const m = await page.evaluate((reps) => {
        const chart = [...window.__tfwCharts].find((c) => c.spec.key.startsWith("m:loss|"));
        const data = chart.uplot.data.map((a) => a);
        const times = { same: [], append: [], empty: [], small: [] };
        // setData + draw, then read one pixel back so the canvas has really been rasterised.
        const timed = (d) => {
          const t0 = performance.now();
          chart.timedSetData(d);
          chart.uplot.ctx.getImageData(0, 0, 1, 1);
          return performance.now() - t0;
        };
        // Count draws, to prove each timed setData really drew (synchronously) inside the timing.
        let draws = 0;
        (chart.uplot.hooks.draw ||= []).push(() => draws++);
        const empty = data.map(() => []);
        const small = data.map((a) => a.slice(0, 1000));
        chart.timedSetData(data); // warm up the JIT
        for (let i = 0; i < reps; i++) {
          times.same.push(timed(data));
          // What the live view does: arrays grow in place by a few points, then setData.
          const last = data[0][data[0].length - 1];
          for (let k = 1; k <= 5; k++) {
            data[0].push(last + k);
            for (let s = 1; s < data.length; s++) data[s].push(data[s][data[s].length - 1]);
          }
          times.append.push(timed(data));
          times.empty.push(timed(empty));
          times.small.push(timed(small));
        }
        chart.timedSetData(data);
        return { points: data[0].length, series: data.length - 1, canvas: chart.uplot.ctx.canvas.width, times, drawsPerUpdate: draws / (4 * reps + 1) };
      }, 30);
      results.update.push({
        viewport: vp.name,
        points: m.points,
        series: m.series,
        canvasPx: m.canvas,
        medianMs: r1(median(m.times.append)),
        p95Ms: r1(pct(m.times.append, 95)),
        sameDataMedianMs: r1(median(m.times.same)),
        emptyMedianMs: r1(median(m.times.empty)),
        thousandMedianMs: r1(median(m.times.small)),
        ratioToEmpty: r1(median(m.times.append) / Math.max(0.05, median(m.times.empty))),
        drawsPerUpdate: m.drawsPerUpdate,
      });
      await context.close();
    }

    // 4. Lighthouse (mobile, simulated throttling) on the session page.
    if (LIGHTHOUSE) {
      const { default: lighthouse } = await import("lighthouse");
      const chromeLauncher = await import("chrome-launcher");
      const runs = [];
      for (let i = 0; i < LH_RUNS; i++) {
        const chrome = await chromeLauncher.launch({ chromePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", chromeFlags: [...CHROMIUM_ARGS, "--headless=new"] });
        try {
          const r = await lighthouse(`${dashboard.url}/s/${small}`, {
            port: chrome.port, output: "json", logLevel: "error",
            onlyCategories: ["performance", "accessibility", "best-practices"],
          });
          const lhr = r.lhr;
          const a = (id) => lhr.audits[id]?.numericValue;
          runs.push({
            performance: Math.round(lhr.categories.performance.score * 100),
            accessibility: Math.round(lhr.categories.accessibility.score * 100),
            bestPractices: Math.round(lhr.categories["best-practices"].score * 100),
            fcpMs: Math.round(a("first-contentful-paint")), lcpMs: Math.round(a("largest-contentful-paint")),
            tbtMs: Math.round(a("total-blocking-time")), cls: r1(a("cumulative-layout-shift") * 1000) / 1000, siMs: Math.round(a("speed-index")),
            failed: Object.values(lhr.audits).filter((x) => x.score !== null && x.score < 0.9 && x.scoreDisplayMode !== "informative" && x.scoreDisplayMode !== "manual" && x.scoreDisplayMode !== "notApplicable").map((x) => x.id),
          });
          if (i === 0) writeFileSync(join(repo, "test-artifacts", "lighthouse-session.json"), r.report);
        } finally {
          await chrome.kill();
        }
      }
      results.lighthouse = { runs, performanceMedian: median(runs.map((x) => x.performance)), accessibilityMedian: median(runs.map((x) => x.accessibility)) };
    }
  } finally {
    await browser.close();
    await dashboard.stop();
  }

  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  writeFileSync(join(repo, "test-artifacts", "bench-dashboard.json"), JSON.stringify(results, null, 2));
  const u = results.update;
  const lines = [
    `| measure | result | target |`,
    `|---|---|---|`,
    `| JavaScript on first load of /s/{sid}, gzip -9 | ${results.firstLoad.jsGzipKB} KB (${results.firstLoad.jsRawKB} KB raw, ${results.firstLoad.jsFiles.length} files) | ≤ 250 KB |`,
    `| navigation → first chart (2,000 points), cold, median of ${RUNS} | ${results.firstChart.coldMedianMs} ms | |`,
    `| navigation → first chart, warm (service worker + Firestore cache) | ${results.firstChart.warmMedianMs} ms | |`,
    ...u.map((x) => `| update of a chart with ${x.points.toLocaleString("en")} points (${x.series} series), ${x.viewport}: median / p95 | ${x.medianMs} / ${x.p95Ms} ms (empty chart ${x.emptyMedianMs} ms, 1,000 points ${x.thousandMedianMs} ms; ${x.ratioToEmpty}× empty) | ≤ 50 ms |`),
    ...(results.lighthouse ? [
      `| Lighthouse mobile performance (median of ${LH_RUNS}) | ${results.lighthouse.performanceMedian} (FCP ${results.lighthouse.runs[0].fcpMs} ms, LCP ${results.lighthouse.runs[0].lcpMs} ms, TBT ${results.lighthouse.runs[0].tbtMs} ms, CLS ${results.lighthouse.runs[0].cls}) | ≥ 95 |`,
      `| Lighthouse accessibility | ${results.lighthouse.accessibilityMedian} | ≥ 95 |`,
      `| Lighthouse best practices | ${results.lighthouse.runs[0].bestPractices} | |`,
    ] : []),
    `| installable (Chrome's Page.getInstallabilityErrors) | ${results.installability.installable ? "yes" : "no: " + results.installability.errors.join(", ")} | yes |`,
  ];
  console.log(lines.join("\n"));
  if (results.lighthouse?.runs[0]?.failed?.length) console.log(`\nLighthouse audits under 0.9: ${results.lighthouse.runs[0].failed.join(", ")}`);
}

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  // Re-run this script inside an emulator (it sets FIRESTORE_EMULATOR_HOST and GCLOUD_PROJECT).
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  const python = join(repo, ".venv", "bin", "python");
  const child = spawn(python, ["-m", "tfwatcher.local.emulator", "--rules", join(repo, "firestore.rules"),
    "--log", join(repo, "test-artifacts", "bench-emulator.log"), "--", process.execPath, fileURLToPath(import.meta.url), ...args],
  { stdio: "inherit", cwd: repo });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}
