// Issue #6, remote stop: the owner link's Stop button ends a real Keras fit (a Python child
// process) through Firestore; a viewer link has no Stop button; a wrong key is refused by the
// rules and the fit keeps running. Nothing is mocked here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { phoneContext, shot, startFit, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

const waitStatus = (page, status, timeout = 60_000) =>
  page.waitForSelector(`.pill[data-status="${status}"]`, { timeout });

test("owner link: Stop, confirm, and the fit returns within 2 s; the status turns stopped", { timeout: 240_000 }, async () => {
  const fit = await startFit(dashboard.url);
  const context = await phoneContext(browser, dashboard.url);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs++; void d.dismiss(); });
  try {
    await page.goto(fit.owner_url);
    await waitStatus(page, "running");
    const stop = page.locator('[data-action="stop"]');
    await stop.waitFor({ state: "visible" });
    assert.equal(await stop.textContent(), "Stop training");
    await page.locator('[data-action="notify"]').waitFor({ state: "visible" });
    await shot(page, "e2e-owner-running-stop-notify-360x640");

    // Record every text the Stop button shows, to see "Stopping…" however short it lasts.
    await page.evaluate(() => {
      const b = document.querySelector('[data-action="stop"]');
      window.__stopTexts = [];
      new MutationObserver(() => window.__stopTexts.push(b.textContent)).observe(b, { childList: true, characterData: true, subtree: true });
    });
    const pressedAt = Date.now();
    await stop.click();
    const confirm = page.locator('[data-action="stop-confirm"]');
    await confirm.waitFor({ state: "visible" });
    assert.equal(await stop.isVisible(), false, "the confirmation replaces the button");
    await shot(page, "e2e-owner-stop-confirm-360x640");
    assert.equal(fit.hasReturned(), null, "asking for confirmation stops nothing");
    await confirm.click();

    const returned = await fit.returned();
    const afterMs = returned.time * 1000 - pressedAt;
    assert.equal(returned.safety, false, "the safety net stopped the fit, not the Stop button");
    assert.ok(afterMs < 2000, `fit returned ${afterMs.toFixed(0)} ms after Stop was pressed`);
    console.log(`# fit returned ${afterMs.toFixed(0)} ms after the Stop press (${returned.epochs} epochs run)`);

    await waitStatus(page, "stopped");
    assert.equal(await page.locator(".pill").textContent(), "Stopped");
    assert.ok((await page.evaluate(() => window.__stopTexts)).includes("Stopping…"));
    assert.equal(await stop.isVisible(), false, "no Stop button once stopped");
    assert.equal(await page.locator('[data-action="notify"]').isVisible(), false, "Notify me only while running");
    assert.equal((await fit.flushed()).status, "stopped");
    await shot(page, "e2e-owner-stopped-360x640");
    assert.equal(dialogs, 0, "no window.confirm/alert");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await fit.stop();
  }
});

test("viewer link: no Stop button; a wrong owner key is refused and the fit keeps running", { timeout: 240_000 }, async () => {
  const fit = await startFit(dashboard.url);
  const viewer = await phoneContext(browser, dashboard.url);
  const wrong = await phoneContext(browser, dashboard.url);
  try {
    const page = await viewer.newPage();
    await page.goto(fit.share_url);
    await waitStatus(page, "running");
    await page.locator('[data-action="notify"]').waitFor({ state: "visible" }); // the page is fully up
    assert.equal(await page.locator('[data-action="stop"]').count(), 0);
    assert.equal(await page.locator("[data-owner-controls]").isVisible(), false);
    await shot(page, "e2e-viewer-running-360x640");

    // An owner link with a wrong key: the page's Firestore SDK writes control/stop, the rules
    // refuse it, and the page says so.
    const bad = await wrong.newPage();
    await bad.goto(`${fit.share_url}#k=${"x".repeat(32)}`);
    await waitStatus(bad, "running");
    await bad.click('[data-action="stop"]');
    await bad.click('[data-action="stop-confirm"]');
    const msg = bad.locator('[data-stop-message][data-kind="error"]');
    await msg.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await msg.textContent(), /owner key was not accepted/);
    assert.equal(await bad.locator('[data-action="stop"]').textContent(), "Stop training", "the button is back for a retry");
    await shot(bad, "e2e-wrong-key-denied-360x640");

    // The fit keeps running: no return, status still running on both pages.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(fit.hasReturned(), null, "the fit returned after a refused stop");
    assert.equal(await bad.locator(".pill").getAttribute("data-status"), "running");
    assert.equal(await page.locator(".pill").getAttribute("data-status"), "running");
  } finally {
    await viewer.close();
    await wrong.close();
    await fit.stop();
  }
});
