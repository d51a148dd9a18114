// What opening a session costs the dashboard (issue 10): documents read, bytes received, JS
// heap and time to the first chart, for long runs written through the package, on the
// summary path (schema 2) and, in the same run, the old chunk path (`?path=chunks`).
//
//   (cd hosting && npm ci && npm run build); (cd tests/e2e && npm ci)
//   PATH=$PWD/.venv/bin:$PATH node bench/dashboard/open_costs.mjs [--runs 1] [--10m] [--only 1m,e5000] [--chunk-timeout 600]
//
// Starts its own Firestore emulator unless FIRESTORE_EMULATOR_HOST is set, writes the runs with
// tests/e2e/longrun.py (tfwatcher.Session), serves hosting/dist with server.mjs (gzip, like
// Hosting) and opens each run in Chromium at 360×640 in a fresh profile (no cache). Writes
// test-artifacts/bench-open-costs.json and prints a Markdown table (docs/benchmarks.md).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt("--runs", 1));
const CHUNK_TIMEOUT_S = Number(opt("--chunk-timeout", 600));
const RUN_DEFS = [
  { key: "10k", label: "10,000 batch points", points: 10_000 },
  { key: "100k", label: "100,000 batch points", points: 100_000 },
  { key: "1m", label: "1,000,000 batch points", points: 1_000_000 },
  // The chunk path would receive ~3 GB for 10M points (linear: 291 MB at 1M): not attempted.
  ...(args.includes("--10m") ? [{ key: "10m", label: "10,000,000 batch points", points: 10_000_000, chunkPath: false }] : []),
  { key: "e100", label: "100 epochs", epochs: 100 },
  { key: "e5000", label: "5,000 epochs", epochs: 5_000 },
  { key: "e50000", label: "50,000 epochs", epochs: 50_000 },
];
const only = opt("--only", null)?.split(",");
const DEFS = only ? RUN_DEFS.filter((d) => only.includes(d.key)) : RUN_DEFS;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const mb = (b) => `${(b / 1e6).toFixed(b < 1e7 ? 2 : 0)} MB`;
const fmtMs = (ms) => (ms == null ? "—" : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${Math.round(ms).toLocaleString("en")} ms`);

/** Writes one run with tests/e2e/longrun.py; resolves with its session ID once it is all sent. */
async function writeRun(python, def) {
  const a = def.epochs ? [String(def.epochs), "--epochs-only", String(def.epochs)] : [String(def.points), "--spike", String(Math.floor(def.points * 0.612345))];
  const child = spawn(python, [join(repo, "tests", "e2e", "longrun.py"), ...a, "--name", `bench ${def.key}`], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-5000); });
  let id = null;
  let seconds = null;
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line);
    if (e.event === "created") id = e.id;
    if (e.event === "ready") { seconds = e.seconds; break; }
  }
  child.stdin.end();
  await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
  if (!id || seconds == null) throw new Error(`writing ${def.key} failed:\n${stderr}`);
  return { id, writeSeconds: seconds };
}

/** Opens a session in a fresh context and measures until it is complete (or the timeout). */
async function open(browser, url, def, path, emulatorPort, timeoutMs) {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const view = def.epochs ? "epochs" : "batches";
  await context.addInitScript((v) => localStorage.setItem("tfw:view", v), view);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const reqs = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    if (new URL(e.request.url).port === String(emulatorPort)) reqs.set(e.requestId, { got: 0, done: 0 });
  });
  cdp.on("Network.dataReceived", (e) => { const r = reqs.get(e.requestId); if (r) r.got += e.encodedDataLength || e.dataLength; });
  cdp.on("Network.loadingFinished", (e) => { const r = reqs.get(e.requestId); if (r) r.done = e.encodedDataLength; });
  const bytes = () => [...reqs.values()].reduce((s, r) => s + Math.max(r.got, r.done), 0);
  const t0 = Date.now();
  await page.goto(`${url}/s/${def.id}?debug${path === "chunks" ? "&path=chunks" : ""}`);
  const want = def.epochs ?? def.points;
  let complete = true;
  try {
    await page.waitForFunction(([epochs, n]) => {
      const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
      const x = c?.uplot?.data[0];
      if (!x?.length) return false;
      if (epochs) return x.length === n;
      // complete: the last step drawn, and every point when reading raw chunks
      return x[x.length - 1] === n && (c.seriesIndex("hi") > 0 || x.length === n);
    }, [!!def.epochs, want], { timeout: timeoutMs, polling: 250 });
  } catch {
    complete = false;
  }
  const completeMs = complete ? Date.now() - t0 : null;
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
  const firstChart = await page.evaluate(() => performance.getEntriesByName("tfw:first-chart")[0]?.startTime ?? null);
  const reads = await page.evaluate(() => window.__tfwReads);
  await cdp.send("HeapProfiler.collectGarbage").catch(() => {});
  const heap = await cdp.send("Runtime.getHeapUsage");
  const rows = await page.evaluate(() => [...window.__tfwCharts].find((x) => x.spec.key.startsWith("m:loss|"))?.uplot?.data[0].length ?? 0);
  const out = {
    path, complete, completeMs, firstChartMs: firstChart, docs: reads.docs, byCollection: reads.byCollection,
    bytes: bytes(), heapBytes: heap.usedSize, rowsDrawn: rows, timeoutS: timeoutMs / 1000,
  };
  await context.close();
  return out;
}

async function main() {
  const { launch, emulatorAddress, python } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const { startStaticServer } = await import("./server.mjs");
  const emulatorPort = emulatorAddress().port;
  const dashboard = await startStaticServer({ emulatorPort });
  const browser = await launch();
  const results = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, runs: [] };
  try {
    for (const def of DEFS) {
      console.error(`writing ${def.label}…`);
      Object.assign(def, await writeRun(python(), def));
      console.error(`  written in ${def.writeSeconds} s (${def.id}); opening…`);
      const per = { summaries: [], chunks: [] };
      for (let i = 0; i < RUNS; i++) {
        per.summaries.push(await open(browser, dashboard.url, def, "summaries", emulatorPort, 120_000));
        if (def.chunkPath !== false) per.chunks.push(await open(browser, dashboard.url, def, "chunks", emulatorPort, CHUNK_TIMEOUT_S * 1000));
      }
      const agg = (list) => list.length === 0 ? null : ({
        ...list[list.length - 1],
        firstChartMs: median(list.map((x) => x.firstChartMs)),
        completeMs: list.every((x) => x.complete) ? median(list.map((x) => x.completeMs)) : null,
        bytes: median(list.map((x) => x.bytes)),
        heapBytes: median(list.map((x) => x.heapBytes)),
        docs: median(list.map((x) => x.docs)),
        all: list,
      });
      results.runs.push({ ...def, summaries: agg(per.summaries), chunks: agg(per.chunks) });
      console.error(`  summaries: ${JSON.stringify(per.summaries.at(-1))}\n  chunks: ${JSON.stringify(per.chunks.at(-1) ?? null)}`);
    }
  } finally {
    await browser.close();
    await dashboard.stop();
  }
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  writeFileSync(join(repo, "test-artifacts", "bench-open-costs.json"), JSON.stringify(results, null, 2));
  const cell = (r) => {
    const t = r.byCollection?.tables ?? 0;
    return [
      `${r.docs.toLocaleString("en")}${t ? ` (${t} epoch table)` : ""}`,
      mb(r.bytes), mb(r.heapBytes), fmtMs(r.firstChartMs), r.complete ? fmtMs(r.completeMs) : `not complete after ${r.timeoutS} s`,
    ];
  };
  const lines = [
    "| run | path | documents read | bytes received | JS heap | first chart | complete |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of results.runs) {
    lines.push(`| ${r.label} | summaries | ${cell(r.summaries).join(" | ")} |`);
    lines.push(`| | every chunk (\`?path=chunks\`) | ${r.chunks ? cell(r.chunks).join(" | ") : "not attempted (~3 GB) | | | |"} |`);
  }
  console.log(lines.join("\n"));
}

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  const child = spawn(join(repo, ".venv", "bin", "python"), ["-m", "tfwatcher.local.emulator", "--rules", join(repo, "firestore.rules"),
    "--log", join(repo, "test-artifacts", "bench-open-costs-emulator.log"), "--", process.execPath, fileURLToPath(import.meta.url), ...args],
  { stdio: "inherit", cwd: repo });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}
