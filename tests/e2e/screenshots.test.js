// Issue #21: a screenshot review. The session page (epochs, batches, the system tab, a NaN
// run, a stopped run, long names, relative and wall time axes), home and compare at 360×640 and 430×932, light and dark,
// saved to test-artifacts/screenshots/ to be looked at (docs/dashboard.md says what was
// checked by eye). Each page must also be free of horizontal overflow.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { artifacts, launch } from "./helpers.js";
import { serve, written } from "./truth-helpers.js";

const dir = join(artifacts, "screenshots");
mkdirSync(dir, { recursive: true });
const VIEWPORTS = [{ width: 360, height: 640 }, { width: 430, height: 932 }];
const SCHEMES = ["light", "dark"];
let dashboard;
let browser;
const runs = {};

before(async () => {
  dashboard = await serve();
  browser = await launch();
  for (const sc of ["system", "nan", "stopped", "names"]) runs[sc] = await written(sc, dashboard.url);
});
after(async () => {
  for (const r of Object.values(runs)) await r.stop();
  await browser?.close();
  await dashboard?.stop();
});

/** Every page × viewport × scheme: `show(page)` brings the page into the state to shoot. */
const PAGES = [
  { name: "session-epochs", show: (p) => session(p, "stopped", "epochs", "stopped") },
  { name: "session-batches", show: (p) => session(p, "system", "batches", "running") },
  {
    name: "session-system",
    show: async (p) => {
      await session(p, "system", "batches", "running");
      await p.click('.kind-tabs button:text-is("system")');
      await p.waitForSelector('[data-chart^="m:cpu_percent|"]', { timeout: 30_000 });
    },
  },
  {
    name: "session-relative-time",
    show: async (p) => {
      await session(p, "system", "batches", "running");
      await p.selectOption('[data-tool="x"]', "relative");
    },
  },
  {
    name: "session-wall-time",
    show: async (p) => {
      await session(p, "system", "batches", "running");
      await p.selectOption('[data-tool="x"]', "wall");
    },
  },
  { name: "session-nan", show: (p) => session(p, "nan", "epochs", "finished") },
  { name: "session-stopped", show: (p) => session(p, "stopped", "batches", "stopped") },
  { name: "session-names", show: (p) => session(p, "names", "batches", "finished") },
  {
    name: "home",
    show: async (p) => {
      await session(p, "nan", null, "finished"); // so that the recents list has entries
      await session(p, "stopped", null, "stopped");
      await p.goto(`${dashboard.url}/`);
      await p.waitForSelector(".recent li");
    },
  },
  {
    name: "compare",
    show: async (p) => {
      await p.goto(`${dashboard.url}/compare?ids=${runs.nan.id},${runs.stopped.id}`);
      await p.waitForSelector("main", { timeout: 30_000 });
      await p.waitForSelector(".chart canvas", { timeout: 30_000 }).catch(() => {});
    },
  },
];

async function session(page, run, view, status) {
  await page.goto(`${dashboard.url}/s/${runs[run].id}`);
  await page.waitForSelector(`.pill[data-status="${status}"]`);
  if (view) {
    await page.click(`[data-view="${view}"]`);
    await page.waitForSelector(".chart canvas");
  }
}

for (const vp of VIEWPORTS) {
  for (const scheme of SCHEMES) {
    test(`screenshots ${vp.width}x${vp.height} ${scheme}`, { timeout: 300_000 }, async () => {
      const context = await browser.newContext({ viewport: vp, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: scheme });
      const page = await context.newPage();
      try {
        for (const pg of PAGES) {
          await pg.show(page);
          await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
          await page.screenshot({ path: join(dir, `${pg.name}-${vp.width}x${vp.height}-${scheme}.png`), fullPage: true });
          const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(over <= 1, `${pg.name}: ${over}px of horizontal overflow`);
        }
      } finally {
        await context.close();
      }
    });
  }
}
