// What a return costs (issue 18, item 4): the documents read and the bytes received when a
// phone's page that was hidden (its listeners detached after 30 s: hosting/src/visibility.ts)
// is shown again after the writer logged 10 minutes and 1 hour worth of points, against what
// a fresh page opening the same run reads.
//
//   (cd hosting && npm ci && npm run build); (cd tests/e2e && npm ci)
//   PATH=$PWD/.venv/bin:$PATH node bench/dashboard/return_reads.mjs [--minutes 10,60] [--rate 20] [--before 20000]
//
// Method, per hidden time M (minutes): a run (tests/e2e/presence_writer.py `return`: 1 metric,
// unwatched from its start) logs `--before` points at once, then `--rate` batches/s. A
// 360×640 Chromium opens its share link (`?debug`, batches view, a fresh context: empty cache),
// watches 15 s, is hidden (document.visibilityState, as tests/e2e/hidden.test.js does) and
// detaches its listeners. Once the run has declared its slow cadence (the page's presence
// lapsed), the writer logs rate × 60 × M points at once and flushes them: what M minutes of
// slow rounds would have written (grown chunks, summary parts and head), in seconds. Then the
// page is shown; counted until its chart draws the newest step logged when it was shown, and 5 s
// more: documents (the page's read log, by collection), bytes from the emulator's port (CDP),
// and the Listen channel's deliveries per kind of document (those the emulator re-sent
// unchanged apart). Then a fresh context opens the same run, counted the same way: what the
// return would cost without the cache and the listeners' resume points.
// Starts its own Firestore emulator unless FIRESTORE_EMULATOR_HOST is set. Writes
// test-artifacts/bench-return-reads.json and prints a Markdown table.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { watchNetwork } from "./listen_stream.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const MINUTES = String(opt("--minutes", "10,60")).split(",").map(Number);
const RATE = Number(opt("--rate", 20));
const BEFORE = Number(opt("--before", 20_000));
const VISIBLE_S = 15;
const SETTLE_S = 5;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r2 = (x) => Math.round(x * 100) / 100;

const newestDrawn = (page) => page.evaluate(() => {
  const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
  const x = c?.uplot?.data[0];
  return x?.length ? x[x.length - 1] : -1;
});
const reads = (page) => page.evaluate(() => ({ docs: window.__tfwReads.docs, by: { ...window.__tfwReads.byCollection } }));
const drawnAtLeast = (page, step, timeout) => page.waitForFunction((t) => {
  const c = [...(window.__tfwCharts ?? [])].find((x) => x.spec.key.startsWith("m:loss|"));
  const x = c?.uplot?.data[0];
  return x?.length && x[x.length - 1] >= t;
}, step, { timeout });

/** What happened between two counts: documents by collection, MB, deliveries per kind of document. */
function delta(a, b) {
  const by = Object.fromEntries(Object.entries(b.reads.by).map(([k, v]) => [k, v - (a.reads.by[k] ?? 0)]).filter(([, v]) => v));
  const kinds = {};
  for (const [k, v] of Object.entries(b.kinds)) {
    const u = a.kinds[k] ?? { n: 0, chars: 0, resent_n: 0, resent_chars: 0 };
    if (v.n - u.n) kinds[k] = { deliveries: v.n - u.n, resent: v.resent_n - u.resent_n, kb: Math.round((v.chars - u.chars) / 100) / 10 };
  }
  return { docs: b.reads.docs - a.reads.docs, by_collection: by, mb: r2((b.bytes - a.bytes) / 1e6), by_kind: kinds };
}

async function counted(page, net) {
  return { reads: await reads(page), bytes: net.bytes(), kinds: structuredClone(net.stream.kinds) };
}

async function newPage(browser, emulatorPort, { hideable }) {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await context.addInitScript((hide) => {
    localStorage.setItem("tfw:view", "batches");
    if (!hide) return;
    // document.visibilityState under the bench's control (a hidden tab, without freezing the page).
    let state = "visible";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
    window.__tfwSetVisibility = (s) => {
      state = s;
      document.dispatchEvent(new Event("visibilitychange"));
    };
  }, hideable);
  const page = await context.newPage();
  const net = await watchNetwork(await context.newCDPSession(page), emulatorPort);
  return { context, page, net };
}

async function scenario(browser, url, emulatorPort, minutes) {
  const { child } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const w = child([join(repo, "tests", "e2e", "presence_writer.py"), "return", "--rate", String(RATE),
    "--before", String(BEFORE), "--name", `bench return ${minutes} min`]);
  const { id } = JSON.parse(await w.next((l) => l.startsWith("{"), 300_000));
  let logged = 0;
  const events = [];
  const waiters = [];
  w.next((l) => {
    if (!l.startsWith("{")) return false;
    const e = JSON.parse(l);
    if (e.event === "logged") logged = e.step;
    else {
      events.push(e);
      for (const f of waiters.splice(0)) f();
    }
    return false;
  }, 7_200_000).catch(() => {});
  const event = async (name, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = events.findIndex((e) => e.event === name);
      if (i >= 0) return events.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no "${name}" from the writer in ${timeoutMs / 1000} s`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 1000); });
    }
  };
  const facts = { hidden_minutes: minutes, rate: RATE, before: BEFORE, sid: id };
  const { context, page, net } = await newPage(browser, emulatorPort, { hideable: true });
  try {
    await page.goto(`${url}/s/${id}?debug`);
    await page.waitForSelector('body[data-listeners="attached"]', { state: "attached", timeout: 120_000 });
    await drawnAtLeast(page, BEFORE, 120_000);
    await sleep(VISIBLE_S * 1000);
    const opened = await counted(page, net);
    facts.open = { ...delta({ reads: { docs: 0, by: {} }, bytes: 0, kinds: {} }, opened), steps: logged };
    facts.open_targets = net.targetLog.map((t) => (t.add != null ? `+${t.add} ${t.what}` : `-${t.remove}`));

    // Hidden: listeners detached after 30 s; then the run goes to its slow cadence.
    await page.evaluate(() => window.__tfwSetVisibility("hidden"));
    await page.waitForSelector('body[data-listeners="detached"]', { state: "attached", timeout: 90_000 });
    const hidden0 = await counted(page, net);
    w.stdin.write("unwatched\n");
    facts.unwatched_at_step = (await event("unwatched", 400_000)).step;
    // M minutes of logging, compressed.
    const n = Math.round(RATE * 60 * minutes);
    w.stdin.write(`burst ${n}\n`);
    const b = await event("burst", 600_000);
    if (!b.flushed) throw new Error("the writer's flush after the burst failed");
    facts.points_logged_hidden = b.step - facts.unwatched_at_step;
    const beforeShow = await counted(page, net);
    facts.hidden = delta(hidden0, beforeShow);

    // Shown again: counted until the newest step logged is drawn, and SETTLE_S more.
    const target = Math.max(logged, b.step);
    facts.target_step = target;
    const shownAt = Date.now();
    await page.evaluate(() => window.__tfwSetVisibility("visible"));
    await drawnAtLeast(page, target, 120_000);
    facts.catch_up_s = r2((Date.now() - shownAt) / 1000);
    await sleep(SETTLE_S * 1000);
    facts.return = delta(beforeShow, await counted(page, net));
    facts.drawn = await newestDrawn(page);
    facts.listen_targets = [...net.targets.values()];
  } finally {
    await context.close();
  }
  // The same run opened by a fresh page (empty cache), counted the same way.
  const fresh = await newPage(browser, emulatorPort, { hideable: false });
  try {
    const target = logged;
    const t0 = Date.now();
    await fresh.page.goto(`${url}/s/${id}?debug`);
    await drawnAtLeast(fresh.page, target, 120_000);
    facts.fresh_open_s = r2((Date.now() - t0) / 1000);
    await sleep(SETTLE_S * 1000);
    facts.fresh = delta({ reads: { docs: 0, by: {} }, bytes: 0, kinds: {} }, await counted(fresh.page, fresh.net));
  } finally {
    await fresh.context.close();
    await w.stop();
  }
  return facts;
}

async function main() {
  const { launch, emulatorAddress } = await import(join(repo, "tests", "e2e", "helpers.js"));
  const { startStaticServer } = await import("./server.mjs");
  const emulatorPort = emulatorAddress().port;
  const dashboard = await startStaticServer({ emulatorPort });
  const browser = await launch();
  const results = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, rate: RATE, before: BEFORE, runs: [] };
  try {
    for (const m of MINUTES) {
      console.error(`a return after ${m} min hidden…`);
      const r = await scenario(browser, dashboard.url, emulatorPort, m);
      console.error(`  ${JSON.stringify(r)}`);
      results.runs.push(r);
    }
  } finally {
    await browser.close();
    await dashboard.stop();
  }
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  writeFileSync(join(repo, "test-artifacts", "bench-return-reads.json"), JSON.stringify(results, null, 2));
  const coll = (by) => Object.entries(by).map(([k, v]) => `${k} ${v}`).join(", ");
  const kinds = (by) => Object.entries(by).map(([k, v]) => `${k} ${v.deliveries - v.resent}${v.resent ? ` (+${v.resent} re-sent)` : ""}`).join(", ");
  const lines = [
    `| hidden for | points logged meanwhile | documents read on return (by collection) | received | Listen deliveries (emulator re-sends apart) | drawn after | a fresh page opening the run: documents, received |`,
    `|---|---|---|---|---|---|---|`,
    ...results.runs.map((r) => `| ${r.hidden_minutes} min | ${r.points_logged_hidden.toLocaleString("en")} | ${r.return.docs} (${coll(r.return.by_collection)}) | ${r.return.mb} MB | ${kinds(r.return.by_kind)} | ${r.catch_up_s} s | ${r.fresh.docs} (${coll(r.fresh.by_collection)}), ${r.fresh.mb} MB |`),
  ];
  console.log(lines.join("\n"));
}

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  mkdirSync(join(repo, "test-artifacts"), { recursive: true });
  const child = spawn(join(repo, ".venv", "bin", "python"), ["-m", "tfwatcher.local.emulator", "--rules", join(repo, "firestore.rules"),
    "--log", join(repo, "test-artifacts", "bench-return-reads-emulator.log"), "--", process.execPath, fileURLToPath(import.meta.url), ...args],
  { stdio: "inherit", cwd: repo });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}
