// Shared fixtures for the e2e tests: the dashboard server (tfwatcher.local.server) pointed at the
// emulator that `npm test` started, Chromium via playwright-core, and Python writers.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "..", "..");
export const dist = join(repo, "hosting", "dist");
export const artifacts = join(repo, "test-artifacts");
mkdirSync(artifacts, { recursive: true });

export const PHONE = { width: 360, height: 640 };
export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic",
];

export function emulatorAddress() {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host) throw new Error("FIRESTORE_EMULATOR_HOST is not set: run `npm test` (it starts the emulator)");
  const [h, p] = host.split(":");
  return { host: h, port: Number(p) };
}

export function python() {
  const venv = join(repo, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python";
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Lines of a child's stdout as an async queue: `await next(predicate)`. */
function lineQueue(stream) {
  const lines = [];
  const waiters = [];
  let closed = false;
  createInterface({ input: stream }).on("line", (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  }).on("close", () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  let read = 0;
  return async function next(pred = () => true, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (read < lines.length) {
        const l = lines[read++];
        if (pred(l)) return l;
      }
      if (closed) throw new Error("process ended before the expected output");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for process output");
      await new Promise((r) => { waiters.push(r); setTimeout(r, left).unref(); });
    }
  };
}

function spawnChild(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { cwd: here, env: process.env, stdio: ["pipe", "pipe", "pipe"], ...opts });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; if (stderr.length > 20000) stderr = stderr.slice(-20000); });
  child.stderrText = () => stderr;
  return child;
}

function stopChild(child) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once("exit", () => res());
    try { child.stdin.end(); } catch { /* closed */ }
    child.kill("SIGTERM");
    setTimeout(() => { try { child.kill("SIGKILL"); } catch { /* gone */ } }, 5000).unref();
  });
}

/**
 * `python -m tfwatcher.local.server` on a free port: the built app plus /__/firebase/init.json, and
 * the proxy through which the browser reaches the emulator (tfwatcher/local/server.py).
 */
export async function startDashboard({ project } = {}) {
  if (!existsSync(join(dist, "index.html"))) throw new Error(`No build in ${dist}: run npm run build in hosting/`);
  const port = await freePort();
  const child = spawnChild(python(), ["-m", "tfwatcher.local.server", "--dist", dist, "--port", String(port),
    "--emulator-port", String(emulatorAddress().port), ...(project ? ["--project", project] : [])], { cwd: repo });
  const next = lineQueue(child.stdout);
  await next((l) => l.startsWith("Serving"), 30_000).catch((e) => {
    throw new Error(`dashboard server did not start: ${e.message}\n${child.stderrText()}`);
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** Runs writer.py (the real logging API); `await w.next("epoch1")` waits for a phase. */
export async function startWriter(scenario, dashboardUrl) {
  const child = spawnChild(python(), [join(here, "writer.py"), scenario, dashboardUrl]);
  const nextLine = lineQueue(child.stdout);
  const fail = (e) => new Error(`${e.message}\n--- writer stderr ---\n${child.stderrText()}`);
  const created = JSON.parse(await nextLine((l) => l.startsWith("{"), 60_000).catch((e) => { throw fail(e); }));
  return {
    ...created,
    async ready(phase) {
      await nextLine((l) => l.includes(`"phase": "${phase}"`), 60_000).catch((e) => { throw fail(e); });
    },
    go() { child.stdin.write("go\n"); },
    stop: () => stopChild(child),
  };
}

/** Runs seed.py and returns the session ID it created. */
export async function seed(...args) {
  const child = spawnChild(python(), [join(here, "seed.py"), ...args.map(String)]);
  const next = lineQueue(child.stdout);
  const sid = await next(() => true, 120_000).catch((e) => { throw new Error(`${e.message}\n${child.stderrText()}`); });
  await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
  return sid.trim();
}

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/**
 * Content-Security-Policy violations seen by every context phoneContext() made: the
 * `securitypolicyviolation` events of its pages and their console messages about the policy
 * (the service worker's own console is not watched). `takeCspViolations()` returns them and starts over.
 */
const cspViolations = [];
// TFW_CSP_LOG=file also appends each violation there (for test files that do not assert).
const logCsp = (v) => { if (process.env.TFW_CSP_LOG) appendFileSync(process.env.TFW_CSP_LOG, `${JSON.stringify(v)}\n`); };
export function takeCspViolations() {
  return cspViolations.splice(0);
}

export async function watchCsp(context) {
  await context.exposeBinding("__tfwCspViolation", (_source, v) => { cspViolations.push(v); logCsp(v); });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__tfwCspViolation({
        directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample,
      });
    });
  });
  const onPage = (page) => page.on("console", (m) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) {
      const v = { console: m.text(), url: page.url() };
      cspViolations.push(v);
      logCsp(v);
    }
  });
  context.pages().forEach(onPage);
  context.on("page", onPage);
}

/** A phone-sized context. `noShare` removes navigator.share, so Share copies instead. */
export async function phoneContext(browser, dashboardUrl, { noShare = false, colorScheme = "light" } = {}) {
  const context = await browser.newContext({
    viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme,
  });
  await watchCsp(context);
  // An http:// LAN address is not a secure context: Chromium grants it no clipboard.
  const { protocol, hostname } = new URL(dashboardUrl);
  if (protocol === "https:" || ["127.0.0.1", "localhost", "[::1]"].includes(hostname)) {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: dashboardUrl });
  }
  if (noShare) await context.addInitScript(() => { delete Navigator.prototype.share; delete navigator.share; });
  return context;
}

export const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });

/** Waits until a chart's `data-points` is n (the chart's x array length). */
export async function waitForPoints(page, chartPrefix, n, timeout = 30_000) {
  await page.waitForFunction(
    ([p, want]) => {
      const el = document.querySelector(`[data-chart^="${p}"]`);
      return el && Number(el.getAttribute("data-points")) === want;
    },
    [chartPrefix, n],
    { timeout },
  );
}

/** Replaces one project's security rules in the emulator (other projects keep theirs). */
export async function setRules(project, rules) {
  const { host, port } = emulatorAddress();
  const r = await fetch(`http://${host}:${port}/emulator/v1/projects/${project}:securityRules`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ rules: { files: [{ name: "firestore.rules", content: rules }] } }),
  });
  if (!r.ok) throw new Error(`setting rules failed: ${r.status} ${await r.text()}`);
}

/**
 * Runs fit_until_stopped.py: a real Keras fit that only a stop command ends. Resolves once
 * the session exists, with its links; `returned()` waits for the line printed when fit
 * returns, `flushed()` for the final status. `env` replaces the child's environment.
 */
export async function startFit(dashboardUrl, safetySeconds = 120, { env } = {}) {
  const child = spawnChild(python(), [join(here, "fit_until_stopped.py"), dashboardUrl, String(safetySeconds)],
    env ? { env } : {});
  const nextLine = lineQueue(child.stdout);
  const fail = (e) => new Error(`${e.message}\n--- fit stderr ---\n${child.stderrText()}`);
  const created = JSON.parse(await nextLine((l) => l.startsWith("{"), 120_000).catch((e) => { throw fail(e); }));
  let returned = null;
  const returnedLine = nextLine((l) => l.includes('"event": "returned"'), safetySeconds * 1000 + 60_000)
    .then((l) => (returned = JSON.parse(l)))
    .catch((e) => { throw fail(e); });
  returnedLine.catch(() => {}); // awaited (and reported) by returned()
  return {
    ...created,
    /** The "returned" event if fit has returned by now, else null. */
    hasReturned: () => returned,
    returned: () => returnedLine,
    async flushed() {
      await returnedLine;
      return JSON.parse(await nextLine((l) => l.includes('"event": "flushed"'), 60_000).catch((e) => { throw fail(e); }));
    },
    stop: () => stopChild(child),
  };
}

/**
 * Documents of one collection read with admin access (google-cloud-firestore in the venv:
 * rules do not apply), as `{id: data}`; timestamps become `{"$timestamp": iso}`.
 */
export async function readCollection(path) {
  const code = [
    "import datetime, json, os, sys",
    "from google.cloud import firestore",
    "db = firestore.Client(project=os.environ.get('TFWATCHER_PROJECT') or os.environ['GCLOUD_PROJECT'])",
    "enc = lambda o: {'$timestamp': o.isoformat()} if isinstance(o, datetime.datetime) else str(o)",
    "print(json.dumps({s.id: s.to_dict() for s in db.collection(sys.argv[1]).stream()}, default=enc))",
  ].join("\n");
  const child = spawnChild(python(), ["-c", code, path]);
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  const code_ = await new Promise((r) => child.once("exit", r));
  if (code_ !== 0) throw new Error(`reading ${path} failed:\n${child.stderrText()}`);
  return JSON.parse(out);
}

/** One dashboard server and one Chromium for a whole test file: `share(dashboard, browser)`
 *  receives them before the first test; both are closed after the last. */
export function withDashboardAndBrowser(share) {
  let dashboard;
  let browser;
  before(async () => {
    dashboard = await startDashboard();
    browser = await launch();
    share(dashboard, browser);
  });
  after(async () => {
    await browser?.close();
    await dashboard?.stop();
  });
}

/** A Python child (in this folder unless `opts.cwd`) read line by line: `next(pred)` waits for
 * the next stdout line `pred` accepts, `stop()` closes its stdin and waits (then kills). */
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
  return { next, stop, stdin: c.stdin };
}

/**
 * A Python child that prints one JSON line per event (`{"event": ..., "fit": n}`: fit_loop.py,
 * fit_until_stopped.py --fits): `next(event, fit)` waits for that event (any fit when `fit` is
 * undefined; `timeoutMs` unless told), `find` looks without waiting, `stop()` ends it (TERM, then
 * KILL). `name` says which child in errors.
 */
export function eventChild(args, { name = "child", timeoutMs = 90_000 } = {}) {
  const child = spawn(python(), args, { env: process.env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-20000); });
  const events = [];
  const waiters = [];
  let closed = false;
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith("{")) events.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  }).on("close", () => { closed = true; for (const w of waiters.splice(0)) w(); });
  const find = (event, fit) => events.find((e) => e.event === event && (fit === undefined || e.fit === fit)) ?? null;
  return {
    find,
    async next(event, fit, waitMs = timeoutMs) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const e = find(event, fit);
        if (e) return e;
        if (closed) throw new Error(`${name} ended before ${event} ${fit ?? ""}\n${stderr}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${event} ${fit ?? ""}\n${stderr}`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, Math.min(left, 1000)).unref(); });
      }
    },
    stop: () => new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) return res();
      child.once("exit", () => res());
      child.kill("SIGTERM");
      setTimeout(() => { try { child.kill("SIGKILL"); } catch { /* gone */ } }, 5000).unref();
    }),
  };
}

// The Firebase JS SDK (its standalone compat build, from the dashboard's node_modules) loaded
// into a page: a browser Firestore client that writes whatever it is told, configured from
// the dashboard's own /__/firebase/init.json, as an attacker holding the share link would.
// `window.__attack(op, path, data, opts)`: op set | update | delete | get; a field `at` of
// "SERVER_TIME" becomes the server timestamp; returns "allowed" or the error code.
const ATTACKER_SDK = ["firebase-app-compat.js", "firebase-firestore-compat.js"]
  .map((f) => readFileSync(join(repo, "hosting", "node_modules", "firebase", f), "utf8"));

export async function attackerPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  for (const content of ATTACKER_SDK) await page.addScriptTag({ content });
  await page.evaluate(async () => {
    const cfg = await (await fetch("/__/firebase/init.json")).json();
    const { firestoreEmulator, ...options } = cfg;
    const app = window.firebase.initializeApp(options, "attacker");
    const db = app.firestore();
    if (firestoreEmulator) db.useEmulator(firestoreEmulator.host, Number(firestoreEmulator.port));
    window.__attack = async (op, path, data, opts) => {
      const ref = db.doc(path);
      const now = window.firebase.firestore.FieldValue.serverTimestamp();
      const body = JSON.parse(JSON.stringify(data ?? {}));
      if (body.at === "SERVER_TIME") body.at = now;
      try {
        if (op === "update") await ref.update(body);
        else if (op === "set") await ref.set(body, opts ?? {});
        else if (op === "delete") await ref.delete();
        else if (op === "get") await ref.get({ source: "server" });
        return "allowed";
      } catch (err) {
        return err.code ?? String(err);
      }
    };
  });
  return page;
}


/**
 * A phone context for "Notify me": FCM's servers cannot be reached from here, so the page gets
 * `token` from `window.__TFW_TEST_FCM_TOKEN__` (the dashboard's one test hook, src/fcm.ts);
 * `grant`: Playwright's real notification permission.
 */
export async function notifyContext(browser, url, { grant = false, token = null } = {}) {
  const context = await phoneContext(browser, url);
  if (grant) await context.grantPermissions(["notifications"], { origin: url });
  if (token) await context.addInitScript((t) => { window.__TFW_TEST_FCM_TOKEN__ = t; }, token);
  return context;
}

/** A page of `context` at `url`, once `ready` shows and Notify me is visible; `page.scripts`
 * lists the scripts it loaded (what a press fetches on demand). */
export async function openForNotify(context, url, ready) {
  const page = await context.newPage();
  const scripts = [];
  page.on("request", (r) => { if (r.resourceType() === "script") scripts.push(new URL(r.url()).pathname); });
  page.scripts = scripts;
  await page.goto(url);
  await page.waitForSelector(ready, { timeout: 30_000 });
  await page.locator('[data-action="notify"]').waitFor({ state: "visible" });
  return page;
}

/** A viewer's subscription document as the rules allow it: exactly token, kind, lang, created
 * (the server's time, now), `lang` the page's language. */
export async function assertViewerSubscription(doc, token, page) {
  const lang = await page.evaluate(() => navigator.language);
  assert.deepEqual(Object.keys(doc).sort(), ["created", "kind", "lang", "token"]);
  assert.equal(doc.token, token);
  assert.equal(doc.kind, "fcm");
  assert.equal(doc.lang, lang.slice(0, 16));
  assert.ok(doc.created?.$timestamp, "created is a timestamp");
  assert.ok(Math.abs(Date.parse(doc.created.$timestamp) - Date.now()) < 60_000, "created is the server's time now");
}
