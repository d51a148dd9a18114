// The dashboard against the Firestore emulator, with data written by the Python package.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { phoneContext, seed, shot, startWriter, takeCspViolations, waitForPoints, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

// The server sends the Content-Security-Policy of tfwatcher/local/server.py (firebase.json's, with
// connect-src 'self'): every page of every test must run without one violation.
afterEach(() => {
  assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations");
});

const pill = (page) => page.locator(".pill").textContent();
const waitStatus = (page, status, timeout = 30_000) =>
  page.waitForSelector(`.pill[data-status="${status}"]`, { timeout });

describe("live session", () => {
  test("points appear while Python writes; status turns finished; the owner key leaves the address bar", async () => {
    const writer = await startWriter("live", dashboard.url);
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    try {
      await writer.ready("epoch1");
      assert.ok(writer.owner_url.endsWith(`/s/${writer.id}#k=${writer.owner_key}`));
      await page.goto(writer.owner_url);
      await waitStatus(page, "running");
      // The key is kept for owner features (localStorage, this device), never left in the URL.
      assert.equal(new URL(page.url()).hash, "");
      assert.equal(await page.evaluate((sid) => localStorage.getItem(`tfw:owner:${sid}`), writer.id), writer.owner_key);

      // One epoch done: the batch view is chosen; 10 points per chart.
      await page.click('[data-view="batches"]');
      await waitForPoints(page, "m:loss|", 10);
      await waitForPoints(page, "m:accuracy|", 10);
      await waitForPoints(page, "time", 10);
      assert.equal(await page.locator('[data-field="epoch"]').textContent(), "1 of 3");
      await shot(page, "e2e-live-batches-360x640");

      // Python writes epoch 2 while the page watches: the same charts grow.
      writer.go();
      await writer.ready("epoch2");
      await waitForPoints(page, "m:loss|", 20);
      assert.equal(await page.locator('[data-field="epoch"]').textContent(), "2 of 3");

      // Epoch view: train and val on the same chart, one point per epoch.
      await page.click('[data-view="epochs"]');
      await waitForPoints(page, "m:loss|loss|val_loss", 2);
      const legend = await page.locator('[data-chart="m:loss|loss|val_loss"] .u-legend').textContent();
      assert.match(legend, /val_loss/);
      assert.match(legend, /loss/);

      writer.go();
      await writer.ready("finished");
      await waitStatus(page, "finished");
      await waitForPoints(page, "m:loss|loss|val_loss", 3);
      await waitForPoints(page, "m:accuracy|accuracy|val_accuracy", 3);
      assert.equal(await pill(page), "Finished");
      assert.equal(await page.locator('[data-field="eta"]').textContent(), "done");
      await shot(page, "e2e-finished-epochs-360x640");
      await page.screenshot({ path: "../../test-artifacts/e2e-finished-epochs-360x640-full.png", fullPage: true });

      // The page fits the phone: nothing wider than the viewport.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);

      // Dark mode follows the system.
      await page.emulateMedia({ colorScheme: "dark" });
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, "rgb(27, 28, 31)");
      await shot(page, "e2e-finished-dark-360x640");

      // Desktop: charts side by side, same page.
      await page.emulateMedia({ colorScheme: "light" });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.waitForFunction(() => document.querySelector(".chart").getBoundingClientRect().width < 640);
      await shot(page, "e2e-finished-desktop-1280x800");
      await page.setViewportSize({ width: 360, height: 640 });

      // Back home: the session is in the recent list.
      await page.click(".brand");
      await page.waitForSelector(`.recent a[href="/s/${writer.id}"]`);
      await shot(page, "e2e-home-360x640");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await writer.stop();
    }
  });
});

describe("share", () => {
  test("without the Web Share API, Share copies the link without the owner key", async () => {
    const writer = await startWriter("crash", dashboard.url);
    const context = await phoneContext(browser, dashboard.url, { noShare: true });
    const page = await context.newPage();
    try {
      await writer.ready("crashed");
      await page.goto(writer.owner_url);
      await waitStatus(page, "crashed");
      assert.equal(await page.evaluate(() => typeof navigator.share), "undefined");
      await page.click('[data-action="share"]');
      await page.waitForSelector("#toast:not([hidden])");
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, `${dashboard.url}/s/${writer.id}`);
      assert.ok(!copied.includes(writer.owner_key) && !copied.includes("#"));
    } finally {
      await context.close();
      await writer.stop();
    }
  });

  test("with the Web Share API, it shares the link without the owner key", async () => {
    const writer = await startWriter("crash", dashboard.url);
    const context = await phoneContext(browser, dashboard.url);
    await context.addInitScript(() => {
      window.__shared = [];
      navigator.share = async (data) => { window.__shared.push(data); };
    });
    const page = await context.newPage();
    try {
      await writer.ready("crashed");
      await page.goto(writer.owner_url);
      await waitStatus(page, "crashed");
      await page.click('[data-action="share"]');
      await page.waitForFunction(() => window.__shared.length === 1);
      const [shared] = await page.evaluate(() => window.__shared);
      assert.equal(shared.url, `${dashboard.url}/s/${writer.id}`);
      assert.ok(!JSON.stringify(shared).includes(writer.owner_key));
    } finally {
      await context.close();
      await writer.stop();
    }
  });
});

describe("states", () => {
  test("crashed: error type and message shown as text, never as HTML", async () => {
    const writer = await startWriter("crash", dashboard.url);
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    let dialogs = 0;
    page.on("dialog", (d) => { dialogs++; void d.dismiss(); });
    try {
      await writer.ready("crashed");
      await page.goto(`${dashboard.url}/s/${writer.id}`);
      await waitStatus(page, "crashed");
      const err = await page.locator(".error-box").textContent();
      assert.equal(err, "ValueError: shapes (3,) and <script>alert(1)</script> (4,) not aligned");
      assert.equal(await page.locator(".run-name").first().textContent(), "<b>e2e</b> crash <img src=x onerror=alert(1)>");
      assert.equal(await page.locator(".session img, .session script, .session b").count(), 0);
      await page.click('[data-view="batches"]');
      await waitForPoints(page, "m:loss|", 3);
      await shot(page, "e2e-crashed-360x640");
      assert.equal(dialogs, 0);
    } finally {
      await context.close();
      await writer.stop();
    }
  });

  test("stalled: running, but no sign of life for minutes", async () => {
    const sid = await seed("stalled");
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await page.goto(`${dashboard.url}/s/${sid}`);
      await waitStatus(page, "stalled");
      assert.match(await page.locator(".error-box").textContent(), /No update for 10 min/);
      await shot(page, "e2e-stalled-360x640");
    } finally {
      await context.close();
    }
  });

  test("a session written by a newer schema says so", async () => {
    const sid = await seed("newer");
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await page.goto(`${dashboard.url}/s/${sid}`);
      await page.waitForSelector('[data-state="newer"]');
    } finally {
      await context.close();
    }
  });

  test("not found, malformed ID, unknown page", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await page.goto(`${dashboard.url}/s/zzzzzzz`);
      await page.waitForSelector('[data-state="missing"]');
      assert.match(await page.locator('[data-state="missing"] h1').textContent(), /not found/i);
      await shot(page, "e2e-not-found-360x640");

      await page.goto(`${dashboard.url}/s/abc0`);
      await page.waitForSelector('[data-state="malformed"]');
      assert.match(await page.locator('[data-state="malformed"]').textContent(), /7 characters|“0”/);
      await shot(page, "e2e-malformed-360x640");

      // Upper case in the URL is normalised.
      await page.goto(`${dashboard.url}/s/ZZZZZZZ`);
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, "/s/zzzzzzz");

      await page.goto(`${dashboard.url}/nothing/here`);
      await page.waitForSelector('[data-state="notFound"]');
    } finally {
      await context.close();
    }
  });

  test("home: the ID field lower-cases and explains what is wrong", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await page.goto(dashboard.url);
      await page.fill("#sid", "AB1");
      assert.equal(await page.inputValue("#sid"), "ab1");
      await page.click('form button[type="submit"]');
      await page.waitForSelector("#sid-error:not(:empty)");
      assert.match(await page.locator("#sid-error").textContent(), /“1”/);
      await page.fill("#sid", "ab2");
      await page.click('form button[type="submit"]');
      assert.match(await page.locator("#sid-error").textContent(), /18 characters \(older ones 7\); this one has 3/);
      await shot(page, "e2e-home-error-360x640");
      await page.fill("#sid", "ZZZZZZZ");
      await page.click('form button[type="submit"]');
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, "/s/zzzzzzz");

      // An 18-character ID typed grouped, in upper case, with spaces: opened by its canonical
      // URL and shown grouped.
      const sid = "x7kq2m9hfw4cpd3ntr";
      await page.goto(dashboard.url);
      await page.fill("#sid", " X7KQ2M-9HFW4C PD3NTR ");
      await page.click('form button[type="submit"]');
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, `/s/${sid}`);
      assert.match(await page.locator('[data-state="missing"]').textContent(), /x7kq2m-9hfw4c-pd3ntr/);
      // A pasted owner link: the key (case kept) reaches the owner store, not the address bar.
      await page.goto(dashboard.url);
      await page.fill("#sid", `https://someone.web.app/s/x7kq2m-9hfw4c-pd3ntr#k=AbC_12-xyz`);
      assert.equal(await page.inputValue("#sid"), `https://someone.web.app/s/x7kq2m-9hfw4c-pd3ntr#k=AbC_12-xyz`);
      await page.click('form button[type="submit"]');
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, `/s/${sid}`);
      assert.equal(new URL(page.url()).hash, "");
      assert.equal(await page.evaluate((s) => localStorage.getItem(`tfw:owner:${s}`), sid), "AbC_12-xyz");
      // The grouped form in a URL is rewritten to the canonical one.
      await page.goto(`${dashboard.url}/s/X7KQ2M-9HFW4C-PD3NTR`);
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, `/s/${sid}`);
    } finally {
      await context.close();
    }
  });

  test("/logs/{id} redirects to /s/{id} (server and client)", async () => {
    const context = await phoneContext(browser, dashboard.url);
    const page = await context.newPage();
    try {
      await page.goto(`${dashboard.url}/logs/zzzzzzz`);
      await page.waitForSelector('[data-state="missing"]');
      assert.equal(new URL(page.url()).pathname, "/s/zzzzzzz");
      // Client side, as when the service worker serves index.html for /logs/{id}.
      await page.evaluate(() => {
        history.pushState(null, "", "/logs/yyyyyyy");
        dispatchEvent(new PopStateEvent("popstate"));
      });
      await page.waitForFunction(() => location.pathname === "/s/yyyyyyy");
    } finally {
      await context.close();
    }
  });
});
