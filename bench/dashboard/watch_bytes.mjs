// What watching a live run costs a phone (issue 18, item 6): bytes of Firestore traffic received
// and documents read per minute, by a 360×640 Chromium on the share link of a run that a Python
// writer (tests/e2e/presence_writer.py, tfwatcher.Session) logs at 20 and at 200 batches/s.
//
//   (cd hosting && npm ci && npm run build); (cd tests/e2e && npm ci)
//   PATH=$PWD/.venv/bin:$PATH node bench/dashboard/watch_bytes.mjs [--seconds 30] [--warmup 15] [--rates 20,200]
//
// Method: for each rate a fresh writer and a fresh browser context (no cache) on
// `/s/{sid}?debug`, batches view. After the first points are drawn and `--warmup` seconds
// more, a window of `--seconds` is measured and projected to a minute:
// - bytes: what Chromium received from the Firestore emulator's port (CDP Network
//   dataReceived / loadingFinished encodedDataLength: the WebChannel long-poll responses,
//   headers included), counted when they arrive;
// - documents: the page's `?debug` read log (window.__tfwReads: documents delivered by
//   listeners and reads, cache snapshots not counted), by collection;
// - of those bytes, the document versions the page already had: the emulator answers every
//   change of a listened query with a RESET and every document of the target again, where
//   Firestore itself sends only what changed. The Listen responses' content (CDP
//   Network.streamResourceContent) is parsed: a documentChange whose (name, updateTime) was
//   delivered before counts as a re-send; "changed" = everything else, an estimate of what the
//   production service would send;
// - listen targets: the Listen channel's addTarget/removeTarget requests (their bodies), so a
//   document watched by two listeners at once shows;
// - per kind of document (chunks, summary head and parts, session, table: listen_stream.mjs
//   docKind): deliveries, MB, of which re-sent, mean and largest delivery;
// - the changed messages gzip-compressed as one stream (what a compressed channel would carry;
//   an estimate);
// - chunk listeners started in the window (hosting/src/chunk-window.ts moves: each re-reads the
//   newest chunk once on Firestore);
// - freshness: seconds from a step being logged (the writer's twice-a-second lines,
//   interpolated) to being drawn (the chart polled every 50 ms), p50 and p95;
// - presence writes in the window (window.__tfwPresence) and steps the writer logged.
// Starts its own Firestore emulator unless FIRESTORE_EMULATOR_HOST is set; serves hosting/dist
// with server.mjs (gzip, like Hosting; the browser talks to the emulator directly). Writes
// test-artifacts/bench-watch-bytes.json and prints a Markdown table.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { watchNetwork } from "./listen_stream.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const WINDOW_S = Number(opt("--seconds", 30));
const WARMUP_S = Number(opt("--warmup", 15));
const RATES = String(opt("--rates", "20,200")).split(",").map(Number);
// As measured in issue 18: 1 metric at 20 batches/s, 2 at 200.
const METRICS = (rate) => (rate >= 200 ? 2 : 1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r2 = (x) => Math.round(x * 100) / 100;

async function watch(browser, url, emulatorPort, rate) {
  const { child } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const w = child([join(repo, "tests", "e2e", "presence_writer.py"), "live", "--rate", String(rate),
    "--metrics", String(METRICS(rate)), "--name", `bench watch ${rate}/s`]);
  const { id } = JSON.parse(await w.next((l) => l.startsWith("{")));
  let logged = 0;
  const loggedAt = []; // [ms, step] as the writer's lines arrive (twice a second)
  w.next((l) => {
    if (l.includes('"logged"')) {
      logged = JSON.parse(l).step;
      loggedAt.push([Date.now(), logged]);
    }
    return false;
  }, 3_600_000).catch(() => {});

  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await context.addInitScript(() => localStorage.setItem("tfw:view", "batches"));
  const page = await context.newPage();
  const net = await watchNetwork(await context.newCDPSession(page), emulatorPort);
  const { stream, targets } = net;
  const bytes = () => net.bytes();
  const snapshot = () => page.evaluate(() => ({
    reads: { docs: window.__tfwReads.docs, by: { ...window.__tfwReads.byCollection } },
    presence: (window.__tfwPresence?.writes ?? []).length,
    points: (() => {
      const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
      const x = c?.uplot?.data[0];
      return x?.length ? { n: x.length, last: x[x.length - 1] } : null;
    })(),
  }));

  try {
    await page.goto(`${url}/s/${id}?debug`);
    await page.waitForFunction(() => {
      const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
      return (c?.uplot?.data[0]?.length ?? 0) > 0;
    }, null, { timeout: 120_000 }).catch(async (err) => {
      const state = await page.evaluate(() => ({
        status: document.querySelector(".pill")?.textContent,
        charts: [...(window.__tfwCharts ?? [])].map((c) => `${c.spec.key}: ${c.uplot?.data[0]?.length}`),
        reads: window.__tfwReads,
        body: document.querySelector("main")?.innerText.slice(0, 400),
      }));
      throw new Error(`no chart after 120 s: ${JSON.stringify(state)}\n${err.message}`);
    });
    // Freshness: when each newest step is first drawn (polled every 50 ms in the page).
    await page.evaluate(() => {
      window.__benchDraws = [];
      let last = -1;
      setInterval(() => {
        const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
        const x = c?.uplot?.data[0];
        const v = x?.length ? x[x.length - 1] : -1;
        if (v > last) window.__benchDraws.push([Date.now(), last, (last = v)]);
      }, 50);
    });
    await sleep(WARMUP_S * 1000);
    const drawsFrom = await page.evaluate(() => window.__benchDraws.length);
    const b0 = bytes();
    const c0 = { resent: stream.resent, fresh: stream.fresh };
    const k0 = structuredClone(stream.kinds);
    stream.keep = true;
    stream.freshText = [];
    const s0 = await snapshot();
    const step0 = logged;
    net.targetLog.length = 0;
    const t0 = Date.now();
    await sleep(WINDOW_S * 1000);
    const b1 = bytes();
    const c1 = { resent: stream.resent, fresh: stream.fresh };
    const k1 = structuredClone(stream.kinds);
    stream.keep = false;
    const gz = gzipSync(stream.freshText.join("\n")).length;
    const s1 = await snapshot();
    const draws = (await page.evaluate(() => window.__benchDraws)).slice(drawsFrom);
    const seconds = (Date.now() - t0) / 1000;
    const perMin = 60 / seconds;
    const by = Object.fromEntries(Object.entries(s1.reads.by).map(([k, v]) => [k, v - (s0.reads.by[k] ?? 0)]).filter(([, v]) => v));
    const active = [...targets.values()];
    const dupes = active.filter((t, i) => active.indexOf(t) !== i);
    return {
      rate, metrics: METRICS(rate), sid: id, window_s: r2(seconds),
      steps_logged: logged - step0,
      newest_drawn: s1.points, newest_logged: logged,
      freshness_s: freshness(draws, loggedAt),
      mb_per_min: r2(((b1 - b0) / 1e6) * perMin),
      // Of the Listen content (characters ≈ bytes: JSON), re-sent versions and the rest.
      listen_resent_mb_per_min: r2(((c1.resent - c0.resent) / 1e6) * perMin),
      listen_changed_mb_per_min: r2(((c1.fresh - c0.fresh) / 1e6) * perMin),
      // The changed messages gzip-compressed as one stream: what they would be on a compressed
      // channel (an estimate; the emulator does not compress).
      listen_changed_gzip_mb_per_min: r2((gz / 1e6) * perMin),
      by_kind_per_min: kindsPerMin(k0, k1, perMin),
      docs_per_min: Math.round((s1.reads.docs - s0.reads.docs) * perMin),
      docs_per_hour: Math.round((s1.reads.docs - s0.reads.docs) * perMin * 60),
      docs_by_collection_per_min: Object.fromEntries(Object.entries(by).map(([k, v]) => [k, Math.round(v * perMin)])),
      presence_writes: s1.presence - s0.presence,
      listen_targets: active,
      target_changes_in_window: net.targetLog.length,
      // Chunk listeners started (src/chunk-window.ts moves): each re-reads the newest chunk once
      // on Firestore (not in the page's read log when the cache already held that version).
      chunk_listener_starts_per_min: Math.round(net.targetLog.filter((t) => t.add != null && /\/batches\b/.test(t.what)).length * perMin),
      identical_targets: dupes,
    };
  } finally {
    await context.close();
    await w.stop();
  }
}

/**
 * Seconds from a step being logged to being drawn, p50 and p95 over the steps drawn in the
 * window: a draw at time t of steps (a, b] counts t − (when the writer logged step s) for each
 * s, the log time interpolated between the writer's twice-a-second lines (it logs steadily).
 */
function freshness(draws, loggedAt) {
  const logTime = (step) => {
    let i = loggedAt.findIndex(([, s]) => s >= step);
    if (i < 0) return null;
    if (i === 0) return loggedAt[0][0];
    const [t0, s0] = loggedAt[i - 1];
    const [t1, s1] = loggedAt[i];
    return t0 + ((t1 - t0) * (step - s0)) / Math.max(1, s1 - s0);
  };
  const lags = [];
  for (const [t, from, to] of draws) {
    if (from < 0) continue;
    for (let s = from + 1; s <= to; s++) {
      const lt = logTime(s);
      if (lt != null) lags.push((t - lt) / 1000);
    }
  }
  if (!lags.length) return null;
  lags.sort((a, b) => a - b);
  const q = (p) => r2(lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]);
  return { p50: q(0.5), p95: q(0.95), steps: lags.length };
}

/** Per document kind, per minute: deliveries, MB, of which re-sent unchanged, and the mean and largest delivery (KB). */
function kindsPerMin(k0, k1, perMin) {
  const out = {};
  for (const [kind, b] of Object.entries(k1)) {
    const a = k0[kind] ?? { n: 0, chars: 0, resent_n: 0, resent_chars: 0 };
    const n = b.n - a.n;
    if (!n) continue;
    const chars = b.chars - a.chars;
    out[kind] = {
      deliveries: Math.round(n * perMin),
      mb: r2((chars / 1e6) * perMin),
      resent_deliveries: Math.round((b.resent_n - a.resent_n) * perMin),
      resent_mb: r2(((b.resent_chars - a.resent_chars) / 1e6) * perMin),
      mean_kb: Math.round(chars / n / 100) / 10,
      max_kb: Math.round(b.max / 100) / 10,
    };
  }
  return out;
}

async function main() {
  const { launch, emulatorAddress } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const { startStaticServer } = await import("./server.mjs");
  const emulatorPort = emulatorAddress().port;
  const dashboard = await startStaticServer({ emulatorPort });
  const browser = await launch();
  const results = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, window_s: WINDOW_S, warmup_s: WARMUP_S, runs: [] };
  try {
    for (const rate of RATES) {
      console.error(`watching a run at ${rate} batches/s…`);
      const r = await watch(browser, dashboard.url, emulatorPort, rate);
      console.error(`  ${JSON.stringify(r)}`);
      results.runs.push(r);
    }
  } finally {
    await browser.close();
    await dashboard.stop();
  }
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  writeFileSync(join(repo, "test-artifacts", "bench-watch-bytes.json"), JSON.stringify(results, null, 2));
  const name = (r) => `${r.rate} batches/s, ${r.metrics} metric${r.metrics > 1 ? "s" : ""}`;
  const lines = [
    `| run | received per minute | of which re-sent unchanged (emulator) / changed (gzip est.) | documents per minute (per hour) | by collection, per minute | freshness p50 / p95 | listen targets |`,
    `|---|---|---|---|---|---|---|`,
    ...results.runs.map((r) => `| ${name(r)} | ${r.mb_per_min} MB | ${r.listen_resent_mb_per_min} / ${r.listen_changed_mb_per_min} MB (${r.listen_changed_gzip_mb_per_min}) | ${r.docs_per_min} (${r.docs_per_hour.toLocaleString("en")}) | ${Object.entries(r.docs_by_collection_per_min).map(([k, v]) => `${k} ${v}`).join(", ")} | ${r.freshness_s ? `${r.freshness_s.p50} / ${r.freshness_s.p95} s` : "?"} | ${r.listen_targets.length}${r.identical_targets.length ? ` (${r.identical_targets.length} identical!)` : ""} |`),
    "",
    `| run | document kind | deliveries per minute (re-sent) | MB per minute (re-sent) | mean / largest delivery |`,
    `|---|---|---|---|---|`,
    ...results.runs.flatMap((r) => Object.entries(r.by_kind_per_min).map(([k, v]) =>
      `| ${name(r)} | ${k} | ${v.deliveries} (${v.resent_deliveries}) | ${v.mb} (${v.resent_mb}) | ${v.mean_kb} / ${v.max_kb} KB |`)),
  ];
  console.log(lines.join("\n"));
}

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  const child = spawn(join(repo, ".venv", "bin", "python"), ["-m", "tfwatcher.local.emulator", "--rules", join(repo, "firestore.rules"),
    "--log", join(repo, "test-artifacts", "bench-watch-bytes-emulator.log"), "--", process.execPath, fileURLToPath(import.meta.url), ...args],
  { stdio: "inherit", cwd: repo });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}
