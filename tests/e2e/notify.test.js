// Issue #6, "Notify me": permission, an FCM token, and the subscriber document in Firestore.
//
// The mocks, both at boundaries this machine cannot cross:
// - FCM: its servers are unreachable here, so `window.__TFW_TEST_FCM_TOKEN__` (set by an init
//   script) is the token src/fcm.ts returns instead of calling getToken(). This is the
//   dashboard's one test hook.
// - The permission prompt of the refusal test: headless Chromium shows no prompt to click, so
//   an init script answers it with "denied" (the user pressed Block). The granted case uses
//   Playwright's real permission grant, and "blocked already" is headless Chromium's own default.
// The subscriber document is written by the page's Firestore SDK through the real rules, and
// read back with admin access from Python.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { assertViewerSubscription, notifyContext as sharedNotifyContext, openForNotify, readCollection, shot, startWriter, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });

const TOKEN = "e2e-fcm-token:APA91b" + "x".repeat(120);
const sha256 = (s) => createHash("sha256").update(s, "utf8").digest("hex");

async function notifyContext({ grant = false, token = TOKEN, prompt = null } = {}) {
  const context = await sharedNotifyContext(browser, dashboard.url, { grant, token });
  if (prompt) {
    await context.addInitScript((answer) => {
      let state = "default";
      Object.defineProperty(Notification, "permission", { get: () => state, configurable: true });
      Notification.requestPermission = async () => { window.__tfwPrompts = (window.__tfwPrompts ?? 0) + 1; state = answer; return answer; };
    }, prompt);
  }
  return context;
}

const openRunning = (context, url) => openForNotify(context, url, '.pill[data-status="running"]');

test("Notify me: permission granted, the token stored as sessions/{sid}/subscribers/{sha256(token)} and counted", { timeout: 120_000 }, async () => {
  const writer = await startWriter("live", dashboard.url);
  const context = await notifyContext({ grant: true });
  const again = await notifyContext({ grant: true });
  try {
    await writer.ready("epoch1");
    // A viewer link: notifications are for anyone with the link.
    const page = await openRunning(context, writer.share_url);
    assert.ok(!page.scripts.some((s) => s.includes("/fcm-")), "firebase/messaging is loaded only on press");
    await page.click('[data-action="notify"]');
    const msg = page.locator("[data-notify-message]");
    await msg.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await msg.textContent(), /You'll get a notification on this device/);
    assert.equal(await page.locator('[data-action="notify"]').textContent(), "Notifications on");
    assert.ok(page.scripts.some((s) => s.includes("/fcm-")), "the messaging chunk loads on press");
    await shot(page, "e2e-notify-on-360x640");

    const subs = await readCollection(`sessions/${writer.id}/subscribers`);
    assert.deepEqual(Object.keys(subs), [sha256(TOKEN)]);
    await assertViewerSubscription(subs[sha256(TOKEN)], TOKEN, page);
    // Issue 12: the viewers' counter took one step in the same batch.
    assert.deepEqual(await readCollection(`sessions/${writer.id}/counters`), { subscribers: { n: 1, last: sha256(TOKEN) } });

    // Reloading remembers it on this device.
    await page.reload();
    await page.waitForSelector('.pill[data-status="running"]');
    await page.waitForFunction(() => document.querySelector('[data-action="notify"]')?.textContent === "Notifications on");

    // The same device token again (another browser profile, nothing remembered): the rules
    // refuse the second create, which is "already subscribed"; still one document.
    const page2 = await openRunning(again, writer.share_url);
    await page2.click('[data-action="notify"]');
    await page2.locator("[data-notify-message]").waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await page2.locator("[data-notify-message]").textContent(), /already subscribed/);
    assert.deepEqual(Object.keys(await readCollection(`sessions/${writer.id}/subscribers`)), [sha256(TOKEN)]);
    assert.equal((await readCollection(`sessions/${writer.id}/counters`)).subscribers.n, 1, "no second step");
  } finally {
    await context.close();
    await again.close();
    await writer.stop();
  }
});

test("Notify me on the owner link: the owner's own subscription o-{sha256(key:token)}, outside the viewers' cap", { timeout: 120_000 }, async () => {
  const writer = await startWriter("live", dashboard.url);
  const viewer = await notifyContext({ grant: true, token: "e2e-viewer-token:APA91b" + "v".repeat(120) });
  const owner = await notifyContext({ grant: true });
  try {
    await writer.ready("epoch1");
    const v = await openRunning(viewer, writer.share_url);
    await v.click('[data-action="notify"]');
    await v.locator("[data-notify-message]").waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await v.locator("[data-notify-message]").textContent(), /You'll get a notification/);

    const page = await openRunning(owner, writer.owner_url);
    await page.click('[data-action="notify"]');
    const msg = page.locator("[data-notify-message]");
    await msg.waitFor({ state: "visible", timeout: 30_000 });
    assert.match(await msg.textContent(), /You'll get a notification on this device/);
    const ownerId = `o-${sha256(`${writer.owner_key}:${TOKEN}`)}`;
    const subs = await readCollection(`sessions/${writer.id}/subscribers`);
    assert.deepEqual(Object.keys(subs).sort(), [ownerId, sha256("e2e-viewer-token:APA91b" + "v".repeat(120))].sort());
    assert.deepEqual(Object.keys(subs[ownerId]).sort(), ["created", "kind", "lang", "token"], "the key is not stored");
    assert.equal(subs[ownerId].token, TOKEN);
    const counters = await readCollection(`sessions/${writer.id}/counters`);
    assert.equal(counters.subscribers.n, 1, "the owner is not counted among the viewers");
    assert.equal(counters.owners.n, 1, "the owner subscription stepped its own counter");
    assert.equal(counters.owners.last, ownerId);
  } finally {
    await viewer.close();
    await owner.close();
    await writer.stop();
  }
});

test("Notify me: a refusal says so gently and writes nothing; blocked already explains how to allow", { timeout: 120_000 }, async () => {
  const writer = await startWriter("live", dashboard.url);
  const refuses = await notifyContext({ prompt: "denied" });
  const blocked = await notifyContext(); // headless Chromium: notifications blocked already
  try {
    await writer.ready("epoch1");
    const page = await openRunning(refuses, writer.owner_url);
    await page.click('[data-action="notify"]');
    const msg = page.locator("[data-notify-message]");
    await msg.waitFor({ state: "visible" });
    assert.match(await msg.textContent(), /^No notifications, then/);
    assert.equal(await page.evaluate(() => window.__tfwPrompts), 1);
    // Nothing else is hidden: the button (to change one's mind), Stop, Share, the charts.
    for (const sel of ['[data-action="notify"]', '[data-action="stop"]', '[data-action="share"]', ".pill", ".view-tabs"]) {
      assert.ok(await page.locator(sel).isVisible(), `${sel} is still visible`);
    }
    assert.equal(await page.locator('[data-action="notify"]').textContent(), "Notify me");
    assert.ok(!page.scripts.some((s) => s.includes("/fcm-")), "no token was asked for");
    await shot(page, "e2e-notify-refused-360x640");

    const page2 = await openRunning(blocked, writer.share_url);
    assert.equal(await page2.evaluate(() => Notification.permission), "denied");
    await page2.click('[data-action="notify"]');
    await page2.locator("[data-notify-message]").waitFor({ state: "visible" });
    assert.match(await page2.locator("[data-notify-message]").textContent(), /blocked for this site.*Allow/);

    assert.deepEqual(await readCollection(`sessions/${writer.id}/subscribers`), {});
  } finally {
    await refuses.close();
    await blocked.close();
    await writer.stop();
  }
});

test("the service worker shows an FCM push as notify.py sends it, with the session to open", { timeout: 120_000 }, async () => {
  const context = await notifyContext({ grant: true, token: null });
  const page = await context.newPage();
  try {
    await page.goto(`${dashboard.url}/`);
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
    // Chromium's DevTools protocol delivers a push message to the worker, as the push service would.
    const cdp = await context.newCDPSession(page);
    const registration = new Promise((res) => cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
      const r = registrations.find((x) => x.scopeURL === `${dashboard.url}/` && !x.isDeleted);
      if (r) res(r.registrationId);
    }));
    await cdp.send("ServiceWorker.enable");
    const payload = {
      notification: { title: "Training finished", body: "e2e (abc2345) · epoch 3/3", tag: "tfwatcher-abc2345-finished" },
      data: { sid: "abc2345", event: "finished", link: "https://example.web.app/s/abc2345" },
      from: "000000000000",
    };
    await cdp.send("ServiceWorker.deliverPushMessage", {
      origin: dashboard.url, registrationId: await registration, data: JSON.stringify(payload),
    });
    let shown = null;
    for (let i = 0; i < 150 && !shown; i++) {
      shown = await page.evaluate(async () => {
        const reg = await navigator.serviceWorker.ready;
        const [n] = await reg.getNotifications();
        return n ? { title: n.title, body: n.body, tag: n.tag, data: n.data } : null;
      });
      if (!shown) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(shown, {
      title: "Training finished", body: "e2e (abc2345) · epoch 3/3", tag: "tfwatcher-abc2345-finished",
      data: { sid: "abc2345", event: "finished", link: "https://example.web.app/s/abc2345" },
    });
  } finally {
    await context.close();
  }
});
