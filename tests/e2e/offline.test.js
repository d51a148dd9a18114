// Offline and permission states: the service worker, Firestore's persistent cache, and rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { phoneContext, setRules, shot, startDashboard, startWriter, waitForPoints, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

test("a session seen before opens offline, from the service worker and Firestore's cache", async () => {
  const writer = await startWriter("crash", dashboard.url);
  const context = await phoneContext(browser, dashboard.url);
  const page = await context.newPage();
  try {
    await writer.ready("crashed");
    await page.goto(`${dashboard.url}/s/${writer.id}`);
    await page.waitForSelector('.pill[data-status="crashed"]');
    await page.click('[data-view="batches"]');
    await waitForPoints(page, "m:loss|", 3);
    // The service worker has installed and controls the page (precached app shell).
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });

    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('.pill[data-status="crashed"]', { timeout: 30_000 });
    await waitForPoints(page, "m:loss|", 3);
    await page.waitForSelector("#banner:not([hidden])");
    assert.match(await page.locator("#banner").textContent(), /Offline/);
    await shot(page, "e2e-offline-360x640");

    // A session never opened on this device: a clear offline state, not "not found".
    await page.goto(`${dashboard.url}/s/yyyyyyy`);
    await page.waitForSelector('[data-state="offline"]', { timeout: 30_000 });
    // Issue #21: the banner agrees with the page ("nothing is saved"), no "showing saved data".
    await page.waitForFunction(() => document.querySelector("#banner")?.textContent === "Offline", null, { timeout: 10_000 });
    assert.match(await page.locator('[data-state="offline"]').textContent(), /nothing is saved/);
    await shot(page, "e2e-offline-unknown-360x640");
  } finally {
    await context.setOffline(false).catch(() => {});
    await context.close();
    await writer.stop();
  }
});

test("permission denied is its own state", async () => {
  const project = "demo-denied";
  await setRules(project, "rules_version = '2';\nservice cloud.firestore { match /databases/{db}/documents { match /{p=**} { allow read, write: if false; } } }\n");
  const denied = await startDashboard({ project });
  const context = await phoneContext(browser, denied.url);
  const page = await context.newPage();
  try {
    await page.goto(`${denied.url}/s/zzzzzzz`);
    await page.waitForSelector('[data-state="denied"]', { timeout: 30_000 });
    await shot(page, "e2e-denied-360x640");
  } finally {
    await context.close();
    await denied.stop();
  }
});
