// What opening a workspace costs the dashboard (issue 19): documents read, bytes received from
// Firestore and time to the first rendered list, for workspaces of 10, 1,000 and 5,000 runs,
// and what one "Show more" costs. The reads must be flat in the number of runs (bounded by
// the page size: contract workspaces.page_size).
//
//   (cd hosting && npm ci && npm run build); (cd tests/e2e && npm ci)
//   PATH=$PWD/.venv/bin:$PATH node bench/dashboard/workspace_costs.mjs [--runs 3] [--sizes 10,1000,5000]
//
// Starts its own Firestore emulator (with ../../firestore.rules) unless FIRESTORE_EMULATOR_HOST
// is set, seeds each workspace's run index with tests/e2e/seed_workspace.py (3 active runs,
// the rest ended), serves hosting/dist with server.mjs (gzip, like Hosting) and opens
// `/w/{ID}?debug` in Chromium at 360×640 in a fresh profile each time (no cache); bytes are
// counted by a proxy between the browser and the emulator. Writes
// test-artifacts/bench-workspace-costs.json and prints a Markdown table (docs/dashboard.md).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
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
const RUNS = Number(opt("--runs", 3));
const SIZES = opt("--sizes", "10,1000,5000").split(",").map(Number);
const ACTIVE = 3;

const median = (xs) => {
  const s = [...xs].filter((x) => x != null).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const ms = (x) => (x == null ? "—" : `${Math.round(x).toLocaleString("en")} ms`);

/** Seeds one workspace of `n` runs (index documents only); resolves with its ID and seconds taken. */
function seedWorkspace(python, n) {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const child = spawn(python, [join(repo, "tests", "e2e", "seed_workspace.py"), "workspace", String(n), "--active", String(ACTIVE), "--index-only"],
      { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err = (err + d).slice(-5000); });
    child.once("exit", (code) => (code === 0
      ? res({ wid: JSON.parse(out.trim().split("\n").pop()).wid, seedSeconds: (Date.now() - t0) / 1000 })
      : rej(new Error(`seeding ${n} runs failed:\n${err}`))));
  });
}

/** Opens the workspace in a fresh context; measures the open, then one "Show more". */
async function open(browser, url, wid, n, meter) {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const bytes = () => meter.bytes;
  // Firestore answers in streams: wait until the count stops moving.
  const settled = async () => {
    let last = -1;
    for (let still = 0, t = Date.now(); still < 1500 && Date.now() - t < 15_000; await page.waitForTimeout(250)) {
      const b = bytes();
      still = b === last ? still + 250 : 0;
      last = b;
    }
    return last;
  };
  meter.bytes = 0;
  const page1 = Math.min(n, 50);
  await page.goto(`${url}/w/${wid}?debug`);
  // The first page in the list (the active runs are among the newest, so 50 rows, or all of a small workspace).
  await page.waitForFunction((k) => document.querySelectorAll(".ws-list li[data-sid]").length === k, page1, { timeout: 60_000, polling: 50 });
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
  const firstList = await page.evaluate(() => performance.getEntriesByName("tfw:first-list")[0]?.startTime ?? null);
  const open_ = { reads: (await page.evaluate(() => window.__tfwReads.docs)), bytes: await settled(), firstListMs: firstList, rows: page1 };
  let more = null;
  if (n > 50) {
    const t0 = await page.evaluate(() => performance.now());
    await page.click('[data-action="more"]');
    const want = Math.min(n, 100);
    await page.waitForFunction((k) => document.querySelectorAll(".ws-list li[data-sid]").length === k, want, { timeout: 60_000, polling: 20 });
    const t1 = await page.evaluate(() => performance.now());
    await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
    more = { reads: (await page.evaluate(() => window.__tfwReads.docs)) - open_.reads, bytes: (await settled()) - open_.bytes, ms: t1 - t0, rows: want };
  }
  await context.close();
  return { open: open_, more };
}

async function main() {
  const { launch, emulatorAddress, python } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const { startStaticServer } = await import("./server.mjs");
  // The browser reaches the emulator through a counting proxy: every byte Firestore sends,
  // headers included (Chromium's own network events miss or double some of a stream's bytes).
  const meter = { bytes: 0 };
  const proxy = createServer((client) => {
    const upstream = connect(emulatorAddress().port, emulatorAddress().host);
    upstream.on("data", (d) => { meter.bytes += d.length; });
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  const dashboard = await startStaticServer({ emulatorPort: proxy.address().port });
  const browser = await launch();
  const results = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, activeRuns: ACTIVE, workspaces: [] };
  try {
    for (const n of SIZES) {
      console.error(`seeding a workspace of ${n.toLocaleString("en")} runs…`);
      const { wid, seedSeconds } = await seedWorkspace(python(), n);
      const all = [];
      for (let i = 0; i < RUNS; i++) all.push(await open(browser, dashboard.url, wid, n, meter));
      const agg = {
        runs: n, wid, seedSeconds,
        reads: median(all.map((x) => x.open.reads)),
        bytes: median(all.map((x) => x.open.bytes)),
        firstListMs: median(all.map((x) => x.open.firstListMs)),
        moreReads: median(all.map((x) => x.more?.reads)),
        moreBytes: median(all.map((x) => x.more?.bytes)),
        moreMs: median(all.map((x) => x.more?.ms)),
        all,
      };
      results.workspaces.push(agg);
      console.error(`  ${JSON.stringify({ ...agg, all: undefined })}`);
    }
  } finally {
    await browser.close();
    await dashboard.stop();
    proxy.close();
  }
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  writeFileSync(join(repo, "test-artifacts", "bench-workspace-costs.json"), JSON.stringify(results, null, 2));
  const lines = [
    `| runs in the workspace | documents read to open | bytes from Firestore | navigation → first list (median of ${RUNS}) | "Show more": reads / bytes / time |`,
    "|---|---|---|---|---|",
    ...results.workspaces.map((w) => `| ${w.runs.toLocaleString("en")} | ${w.reads} | ${kb(w.bytes)} | ${ms(w.firstListMs)} | ${w.moreReads == null ? "— (all shown)" : `${w.moreReads} / ${kb(w.moreBytes)} / ${ms(w.moreMs)}`} |`),
  ];
  console.log(lines.join("\n"));
}

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  // Re-run this script inside an emulator (it sets FIRESTORE_EMULATOR_HOST and GCLOUD_PROJECT).
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  const child = spawn(join(repo, ".venv", "bin", "python"), ["-m", "tfwatcher.local.emulator", "--rules", join(repo, "firestore.rules"),
    "--log", join(repo, "test-artifacts", "bench-workspace-emulator.log"), "--", process.execPath, fileURLToPath(import.meta.url), ...args],
  { stdio: "inherit", cwd: repo });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}
