// Phones: layout from 320 to 430 px and sideways, the status card from the newest data, the
// owner key remembered on this device, CSV download, compare runs, config. Real emulator, real
// Chromium, data written by the Python package (phone_writer.py).
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { artifacts, child, launch, python, startDashboard, takeCspViolations, watchCsp } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
let dashboard;
let browser;
before(async () => {
  dashboard = await startDashboard();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await dashboard?.stop();
});
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});

const VIEWPORTS = [
  { width: 320, height: 640, name: "320x640" },
  { width: 360, height: 640, name: "360x640" },
  { width: 430, height: 932, name: "430x932" },
  { width: 640, height: 360, name: "640x360-landscape" },
];
const LONG = "m".repeat(10_000);

async function phone(viewport = { width: 360, height: 640 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "light" });
  await watchCsp(context);
  return context;
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `phone-${name}.png`) });

/** phone_writer.py as a child: `ready(phase)`, `next(pred)` for its JSON lines, `go()`, `stop()`. */
async function writer(scenario, name) {
  const c = child([join(here, "phone_writer.py"), scenario, dashboard.url, ...(name ? [name] : [])]);
  // phone_writer.py prints one JSON event a line: wait for the next one `pred` accepts
  const next = async (pred, timeoutMs = 90_000) =>
    JSON.parse(await c.next((l) => l.startsWith("{") && pred(JSON.parse(l)), timeoutMs));
  const created = await next((e) => e.event === "created");
  return {
    ...created,
    next,
    ready: (phase) => next((e) => e.event === "ready" && e.phase === phase),
    go: () => c.stdin.write("go\n"),
    stop: c.stop,
  };
}

/** Documents of sessions/{sid}/{coll} (admin access), non-finite floats as {"$f": "nan"|"inf"|"-inf"}. */
function readRaw(sid, coll) {
  const code = [
    "import json, math, os, sys",
    "from google.cloud import firestore",
    "from tfwatcher.base.packed import unpack_chunk  # batch chunks: packed columns as lists",
    "db = firestore.Client(project=os.environ.get('TFWATCHER_PROJECT') or os.environ['GCLOUD_PROJECT'])",
    "def enc(o):",
    "    if isinstance(o, float) and not math.isfinite(o):",
    "        return {'$f': 'nan' if math.isnan(o) else ('inf' if o > 0 else '-inf')}",
    "    if isinstance(o, dict): return {k: enc(v) for k, v in o.items()}",
    "    if isinstance(o, list): return [enc(v) for v in o]",
    "    if hasattr(o, 'isoformat'): return o.isoformat()",
    "    return o",
    "ref = db.collection('sessions').document(sys.argv[1])",
    "if sys.argv[2] == '.':",
    "    print(json.dumps(enc(ref.get().to_dict())))",
    "else:",
    "    print(json.dumps({s.id: enc(unpack_chunk(s.to_dict())) for s in ref.collection(sys.argv[2]).stream()}))",
  ].join("\n");
  return new Promise((res, rej) => {
    const reader = spawn(python(), ["-c", code, sid, coll], { cwd: here, env: process.env });
    let out = "";
    let err = "";
    reader.stdout.on("data", (d) => { out += d; });
    reader.stderr.on("data", (d) => { err += d; });
    reader.once("exit", (c) => (c === 0 ? res(JSON.parse(out)) : rej(new Error(err))));
  });
}
const unf = (v) => (v && typeof v === "object" && "$f" in v ? { nan: NaN, inf: Infinity, "-inf": -Infinity }[v.$f] : v);

/** RFC 4180 CSV → rows (the dashboard's format: CRLF, quotes doubled). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") { row.push(field); field = ""; }
    else if (ch === "\r" || ch === "\n") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}
const csvNum = (s) => (s === "" ? null : s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s));
const same = (a, b) => (Number.isNaN(a) && Number.isNaN(b)) || Object.is(a, b) || a === b;

const widthOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

describe("phone layout", () => {
  test("holds from 320 to 430 px and sideways: long names, 500 metrics, numbers never break, first chart on screen", async () => {
    const w = await writer("layout");
    try {
      await w.ready("logged");
      for (const vp of VIEWPORTS) {
        const context = await phone(vp);
        const page = await context.newPage();
        const errors = [];
        page.on("pageerror", (e) => errors.push(e));
        try {
          await page.goto(w.owner_url);
          await page.waitForSelector('.pill[data-status="running"]');
          await page.waitForSelector('.charts[data-view="epochs"][data-points="3"] .chart');
          await page.waitForSelector('[data-action="stop"]'); // the owner's controls take room too
          assert.ok(await widthOverflow(page) <= 0, `${vp.name}: page wider than the viewport`);

          const m = await page.evaluate(() => {
            const r = (el) => el.getBoundingClientRect();
            const chart = document.querySelector(".charts .chart");
            const plot = chart.querySelector(".plot canvas, canvas") ?? chart;
            const name = document.querySelector(".title-row .run-name");
            const lh = parseFloat(getComputedStyle(name).lineHeight);
            const facts = [...document.querySelectorAll(".facts dd")].map((dd) => ({
              ws: getComputedStyle(dd).whiteSpace, h: r(dd).height, lh: parseFloat(getComputedStyle(dd).lineHeight),
              num: getComputedStyle(dd).fontVariantNumeric,
            }));
            return { chartTop: r(chart).top, plotTop: r(plot).top, plotBottom: r(plot).bottom, nameH: r(name).height, lh, facts, vh: innerHeight };
          });
          console.log(`${vp.name}: first chart top ${Math.round(m.chartTop)} px, plot ${Math.round(m.plotTop)}–${Math.round(m.plotBottom)} px of ${m.vh}`);
          // The run name takes at most two lines; numbers one line, tabular figures.
          assert.ok(m.nameH <= 2 * m.lh + 1, `${vp.name}: run name is ${m.nameH}px (> 2 lines of ${m.lh}px)`);
          for (const f of m.facts) {
            assert.equal(f.ws, "nowrap");
            assert.match(f.num, /tabular-nums/);
            assert.ok(f.h <= f.lh * 1.5, `${vp.name}: a value broke over lines (${f.h}px)`);
          }
          if (vp.width === 360 && vp.height === 640) {
            assert.ok(m.chartTop < 640, `first chart starts at ${m.chartTop}px, below the fold`);
            assert.ok(m.plotTop < 640 - 100, `less than 100px of the first chart's plot is above the fold (${m.plotTop})`);
          }
          if (vp.height < vp.width) {
            // Sideways: a chart's plot on screen without scrolling.
            const visible = Math.min(m.plotBottom, vp.height) - m.plotTop;
            assert.ok(visible >= 150, `landscape: only ${visible}px of the first plot are on screen`);
          }
          await shot(page, `layout-${vp.name}`);

          // The run name: all of it on a tap.
          await page.click(".title-row .run-name");
          await page.waitForSelector(".title-row .run-name.expanded");
          assert.ok(await widthOverflow(page) <= 0);
          await page.click(".title-row .run-name");

          // Latest values: 500 rows, the 10,000-character name cut, whole on a tap, title = full name.
          await page.click(".latest summary");
          await page.waitForFunction(() => document.querySelectorAll(".latest tbody tr").length >= 500);
          assert.ok(await widthOverflow(page) <= 0, `${vp.name}: latest values make the page wider`);
          const longCell = page.locator(`.latest tbody th .clamp[title="${LONG}"]`);
          assert.equal(await longCell.count(), 1);
          const before = await longCell.evaluate((el) => el.getBoundingClientRect().height);
          await longCell.scrollIntoViewIfNeeded();
          await longCell.click();
          await page.waitForSelector(".latest tbody th .clamp.expanded");
          const afterH = await longCell.evaluate((el) => el.getBoundingClientRect().height);
          assert.ok(afterH > before * 3, "a tap shows the whole name");
          assert.ok(await widthOverflow(page) <= 0, `${vp.name}: an expanded 10,000-character name makes the page wider`);
          const values = await page.$$eval(".latest tbody td", (tds) => tds.map((td) => [getComputedStyle(td).whiteSpace, td.getBoundingClientRect().height]));
          for (const [ws] of values) assert.equal(ws, "nowrap");
          // Charts of long names stay inside the page (caption cut, legend wraps).
          const longChart = page.locator(`.chart figcaption > span:first-child`, { hasText: "mmmmmmmmmm" }).first();
          await longChart.scrollIntoViewIfNeeded();
          assert.ok(await widthOverflow(page) <= 0, `${vp.name}: a chart makes the page wider`);
          await shot(page, `long-names-${vp.name}`);
          if (vp.width === 320) {
            // The batch view of the same 500 metrics fits too.
            await page.click('button[data-view="batches"]');
            await page.waitForSelector('.charts[data-view="batches:train"][data-points="6"] .chart');
            assert.ok(await widthOverflow(page) <= 0, "the batch view makes the page wider");
          }
          assert.deepEqual(errors, []);
        } finally {
          await context.close();
        }
      }
    } finally {
      await w.stop();
    }
  });

  test("config and versions are shown; text stays text", async () => {
    const w = await writer("layout");
    const context = await phone();
    const page = await context.newPage();
    try {
      await w.ready("logged");
      await page.goto(w.share_url);
      await page.waitForSelector("[data-config]:not([hidden])");
      await page.click("[data-config] summary");
      const rows = await page.$$eval("[data-config] tbody tr", (trs) => trs.map((tr) => [tr.querySelector("th").textContent, tr.querySelector("td").textContent, tr.querySelector("td").dataset.type]));
      assert.deepEqual(rows, [
        ["learning_rate", "0.001", "number"],
        ["optimizer.name", "adam", "string"],
        ["optimizer.beta_1", "0.9", "number"],
        ["batch_size", "32", "number"],
        ["augment", "true", "boolean"],
        ["note", 'a, "quoted" text', "string"],
        ["schedule", "null", "null"],
      ]);
      assert.match(await page.locator("[data-versions]").textContent(), /tfwatcher \S+ · python \d/);
      assert.ok(await widthOverflow(page) <= 0);
      await shot(page, "config-360x640");
    } finally {
      await context.close();
      await w.stop();
    }
  });
});

/** A finished epoch-only scenario (3 epochs) on a phone, "Batches" remembered from elsewhere. */
async function openEpochOnly(scenario, check) {
  const w = await writer(scenario);
  const context = await phone();
  await context.addInitScript(() => localStorage.setItem("tfw:view", "batches"));
  const page = await context.newPage();
  try {
    await w.ready("finished");
    await page.goto(w.share_url);
    await page.waitForSelector('.charts[data-view="epochs"][data-points="3"] .chart');
    await check(page);
  } finally {
    await context.close();
    await w.stop();
  }
}

describe("status card", () => {
  test("keeps up with the charts while the heartbeat is a minute away", async () => {
    const w = await writer("status", "status keeps up");
    const context = await phone();
    const page = await context.newPage();
    try {
      await w.ready("started");
      await page.goto(w.share_url);
      await page.waitForSelector('.pill[data-status="running"]');
      await page.click('button[data-view="epochs"]');
      assert.equal(await page.locator('[data-field="epoch"]').textContent(), "—");
      assert.equal(await page.locator('[data-field="eta"]').textContent(), "—");
      for (const epoch of [1, 2, 3]) {
        // Record when the charts show the epoch and when the card does (page clock).
        await page.evaluate((n) => {
          window.__seen = {};
          const check = () => {
            const t = performance.now();
            const charts = document.querySelector('.charts[data-view="epochs"]');
            if (window.__seen.chart == null && charts && Number(charts.dataset.points) >= n) window.__seen.chart = t;
            const f = document.querySelector('[data-field="epoch"]');
            if (window.__seen.card == null && f && f.textContent === `${n} of 5`) window.__seen.card = t;
          };
          check();
          new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        }, epoch);
        w.go();
        await w.next((e) => e.event === "logged" && e.epoch === epoch);
        await page.waitForFunction(() => window.__seen.chart != null && window.__seen.card != null, null, { timeout: 20_000 });
        const seen = await page.evaluate(() => window.__seen);
        const lag = seen.card - seen.chart;
        console.log(`epoch ${epoch}: card ${Math.round(lag)} ms after the chart`);
        assert.ok(lag <= 1000, `the card showed epoch ${epoch} ${Math.round(lag)} ms after the chart`);
        if (epoch === 1) {
          // …while the session document still says what it said at the start (heartbeat 60 s).
          const doc = await readRaw(w.id, ".");
          assert.ok((doc.progress?.epoch ?? 0) < 1, `the session document already had epoch ${doc.progress?.epoch}`);
          assert.equal(await page.locator('[data-field="step"]').textContent(), "4 of 4");
        }
        if (epoch === 2) {
          // ETA from two epoch timings (never from one batch).
          await page.waitForFunction(() => document.querySelector('[data-field="eta"]').textContent !== "—");
        }
      }
      await shot(page, "status-360x640");
    } finally {
      await context.close();
      await w.stop();
    }
  });

  test("evaluate after fit: the call and its batch from the newest test point, not the minute-old heartbeat", async () => {
    const w = await writer("evaluate", "evaluate progress");
    const context = await phone();
    const page = await context.newPage();
    try {
      await w.ready("evaluating");
      await page.goto(w.share_url);
      await page.waitForSelector('.pill[data-status="running"]');
      await page.waitForFunction(() => document.querySelector('[data-field="step"]')?.textContent === "6 of 10");
      assert.equal(await page.locator('[data-field="epoch"]').textContent(), "#1");
      const doc = await readRaw(w.id, ".");
      assert.equal(doc.mode, "evaluate");
      assert.ok((doc.progress?.batch ?? 0) < 6, "the session document is behind: the card read the points");
    } finally {
      await context.close();
      await w.stop();
    }
  });

  test("an epoch-only session has no Batches tab, whatever was remembered", async () => {
    await openEpochOnly("epochonly", async (page) => {
      await page.waitForSelector('.pill[data-status="finished"]');
      assert.equal(await page.locator('button[data-view="batches"]').isVisible(), false);
      assert.equal(await page.locator('button[data-view="epochs"]').getAttribute("aria-selected"), "true");
      assert.equal(await page.locator('[data-field="epoch"]').textContent(), "3 of 3");
      assert.equal(await page.evaluate(() => localStorage.getItem("tfw:view")), "batches"); // kept for other sessions
      await shot(page, "epoch-only-360x640");
    });
  });
});

describe("an epoch-only session with system metrics", () => {
  test("has a System tab, not Batches; opens on the epochs even with Batches remembered", async () => {
    await openEpochOnly("epochsys", async (page) => {
      const tab = page.locator('button[data-view="batches"]');
      await tab.waitFor({ state: "visible" });
      assert.equal((await tab.textContent()).trim(), "System");
      assert.equal(await page.locator('button[data-view="epochs"]').getAttribute("aria-selected"), "true");
      await tab.click();
      await page.waitForSelector('.charts[data-view="batches:system"] .chart[data-chart*="memory_percent"]');
      assert.equal(await tab.getAttribute("aria-selected"), "true");
    });
  });
});

describe("owner on this device", () => {
  test("the key is remembered when the session is reopened from recents; Forget removes Stop", async () => {
    const w = await writer("owner", "owner from recents");
    const context = await phone();
    try {
      await w.ready("running");
      const first = await context.newPage();
      await first.goto(w.owner_url);
      await first.waitForSelector('[data-action="stop"]');
      assert.equal(new URL(first.url()).hash, "");
      assert.equal(await first.evaluate((s) => localStorage.getItem(`tfw:owner:${s}`), w.id), w.owner_key);
      await first.close();

      // A new page of the same browser (like the installed app or a new tab): home → recents.
      const page = await context.newPage();
      await page.goto(dashboard.url);
      const link = page.locator(`.recent a[href="/s/${w.id}"]`);
      await link.waitFor();
      assert.match(await page.locator(`.recent li:has(a[href="/s/${w.id}"])`).textContent(), /owner/);
      await link.click();
      await page.waitForSelector('.pill[data-status="running"]');
      await page.waitForSelector('[data-action="stop"]');
      await shot(page, "owner-from-recents-360x640");

      await page.click('[data-action="forget-owner"]');
      await page.click('[data-action="forget-confirm"]');
      await page.waitForSelector("[data-owner-forgotten]");
      assert.equal(await page.locator('[data-action="stop"]').count(), 0);
      assert.equal(await page.evaluate((s) => localStorage.getItem(`tfw:owner:${s}`), w.id), null);
      await page.reload();
      await page.waitForSelector('.pill[data-status="running"]');
      assert.equal(await page.locator('[data-action="stop"]').count(), 0);
      assert.equal(await page.locator('[data-action="forget-owner"]').count(), 0);
    } finally {
      await context.close();
      await w.stop();
    }
  });
});

describe("CSV", () => {
  test("the download holds exactly the raw points", async () => {
    const w = await writer("csv", 'csv, "quoted" run');
    const context = await phone();
    const page = await context.newPage();
    const requested = [];
    page.on("request", (r) => requested.push(r.url()));
    try {
      await w.ready("finished");
      await page.goto(w.share_url);
      await page.waitForSelector('.pill[data-status="finished"]');
      assert.ok(!requested.some((u) => /csv-download/.test(u)), "the CSV code loads only on the press");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-action="download-csv"]')]);
      assert.equal(download.suggestedFilename(), `tfwatcher-${w.id}.csv`);
      const bytes = readFileSync(await download.path());
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "a UTF-8 byte-order mark for Excel");
      const rows = parseCsv(bytes.subarray(3).toString("utf8"));
      const header = rows[0];
      const col = (n) => header.indexOf(n);
      assert.deepEqual(header.slice(0, 8), ["record", "kind", "epoch", "batch", "step", "seconds", "avg_seconds", "time"]);
      assert.ok(header.includes('val/acc, "top 5"\nsecond line'), "a name with a comma, quotes and a newline is one column");

      const chunks = await readRaw(w.id, "batches");
      const epochs = await readRaw(w.id, "epochs");
      const expected = [];
      for (const [id, d] of Object.entries(epochs)) {
        expected.push({ key: `epoch|${d.kind}|${d.epoch}`, id, fields: { epoch: d.epoch, step: d.step, seconds: unf(d.seconds), avg_seconds: unf(d.avg_seconds), time: d.time },
          metrics: Object.fromEntries(d.names.map((n, j) => [n, unf(d.values[j])])) });
      }
      for (const d of Object.values(chunks)) {
        for (let j = 0; j < d.n; j++) {
          expected.push({ key: `batch|${d.kind}|${d.step[j]}`, fields: { epoch: d.epoch[j], batch: d.batch[j], step: d.step[j], seconds: unf(d.seconds[j]), time: d.time[j] },
            metrics: Object.fromEntries(d.series.map((s) => [s.name, unf(s.values[j])])) });
        }
      }
      const got = new Map(rows.slice(1).map((r) => [`${r[0]}|${r[1]}|${r[0] === "epoch" ? r[2] : r[4]}`, r]));
      assert.equal(rows.length - 1, expected.length, "one row per raw point and epoch record");
      let nonFinite = 0;
      for (const e of expected) {
        const r = got.get(e.key);
        assert.ok(r, `missing row ${e.key}`);
        for (const [k, v] of Object.entries(e.fields)) assert.ok(same(csvNum(r[col(k)]), v ?? null), `${e.key} ${k}: ${r[col(k)]} ≠ ${v}`);
        for (const name of header.slice(8)) {
          const want = name in e.metrics ? e.metrics[name] : null;
          const have = csvNum(r[col(name)]);
          if (typeof want === "number" && !Number.isFinite(want)) nonFinite++;
          assert.ok(same(have, want ?? null), `${e.key} ${JSON.stringify(name)}: ${r[col(name)]} ≠ ${want}`);
        }
      }
      assert.ok(nonFinite >= 4, "NaN, inf and -inf went through");
      const raw = readFileSync(await download.path(), "utf8");
      assert.match(raw, /,nan,|,nan\r\n/);
      assert.match(raw, /,inf,|,inf\r\n/);
      assert.match(raw, /,-inf,|,-inf\r\n/);
    } finally {
      await context.close();
      await w.stop();
    }
  });
});

describe("compare runs", () => {
  test("two live sessions overlaid and updating; bad and missing IDs marked; align by step; the URL is the state", async () => {
    const a = await writer("compare", "run A");
    const b = await writer("compare", "run B");
    const context = await phone();
    const page = await context.newPage();
    try {
      await a.ready("running");
      await b.ready("running");
      // Open both (so they are in recents), then pick them on the home screen.
      for (const w of [a, b]) {
        await page.goto(w.share_url);
        await page.waitForSelector('.pill[data-status="running"]');
      }
      await page.goto(dashboard.url);
      await page.check(`input[data-compare="${a.id}"]`);
      assert.equal(await page.locator('[data-action="compare"]').isDisabled(), true);
      await page.check(`input[data-compare="${b.id}"]`);
      assert.ok(await widthOverflow(page) <= 0);
      await shot(page, "home-pick-to-compare-360x640");
      await page.click('[data-action="compare"]');
      await page.waitForURL((u) => u.pathname === "/compare" && u.searchParams.get("ids") === `${a.id},${b.id}`);
      await page.waitForSelector('[data-compare-chart="loss"][data-points="2,2"]');
      await shot(page, "compare-home-360x640");

      // Pasted IDs, with a malformed and a missing one: marked, the others shown.
      await page.goto(`${dashboard.url}/compare?ids=${a.id},abc0,zzzzzzz,${b.id}`);
      await page.waitForSelector(`.compare-legend li[data-sid="${a.id}"][data-state="ok"]`);
      await page.waitForSelector(`.compare-legend li[data-sid="${b.id}"][data-state="ok"]`);
      await page.waitForSelector('.compare-legend li[data-sid="zzzzzzz"][data-state="missing"]');
      assert.match(await page.locator('.compare-legend li[data-state="malformed"]').textContent(), /abc0.*not a session ID/);
      assert.match(await page.locator('.compare-legend li[data-sid="zzzzzzz"]').textContent(), /not found/);
      const legend = await page.locator(".compare-legend").textContent();
      assert.match(legend, /run A/);
      assert.match(legend, /run B/);
      await page.waitForSelector('[data-compare-chart="loss"][data-points="2,2"]');
      await page.waitForSelector('[data-compare-chart="loss"][data-val-points="2,2"]'); // val_loss shares loss's chart
      assert.equal(await page.locator('[data-compare-chart="loss"]').getAttribute("data-runs"), "2");
      assert.ok(await widthOverflow(page) <= 0);
      await shot(page, "compare-epochs-360x640");

      await page.click('button[data-align="step"]');
      await page.waitForSelector('[data-compare-chart="loss"][data-points="10,10"]');
      assert.equal(new URL(page.url()).searchParams.get("x"), "step");
      await shot(page, "compare-steps-360x640");
      // Shareable: the same URL in a new page shows the same thing.
      const again = await context.newPage();
      await again.goto(page.url());
      await again.waitForSelector('[data-compare-chart="loss"][data-points="10,10"]');
      assert.equal(await again.locator('button[data-align="step"]').getAttribute("aria-pressed"), "true");
      await again.close();
      // Live: run A logs another epoch while the comparison is open.
      a.go();
      await a.ready("epoch3");
      await page.waitForSelector('[data-compare-chart="loss"][data-points="15,10"]');
      await page.click('button[data-align="epoch"]');
      await page.waitForSelector('[data-compare-chart="loss"][data-points="3,2"]');
      assert.equal(new URL(page.url()).searchParams.get("x"), null);
    } finally {
      await context.close();
      await a.stop();
      await b.stop();
    }
  });
});
