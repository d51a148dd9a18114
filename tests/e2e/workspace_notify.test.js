// Issue 19, item 5: "Notify me" on the workspace page (/w/{wid}): one subscription for every run
// of the workspace, in workspaces/{wid}/subscribers, as a viewer (capped, counted), on the owner
// link (o-{sha256(workspaceKey:token)}, counted apart) and as a device enrolled in the workspace
// whose key is gone (o-{sha256(P:token)} with device: dh, P its enrolment proof).
//
// THE ONE MOCK: FCM's servers cannot be reached from the test machines, so the page gets its
// token from `window.__TFW_TEST_FCM_TOKEN__` (an init script) instead of getToken() (src/fcm.ts).
// Everything else is real: the notification permission is Playwright's real grant, the
// documents are written by the page's Firestore SDK through ../../firestore.rules in the
// emulator, the workspace (its owner key and run index) by seed_workspace.py with server
// credentials, and everything is read back with admin access from Python.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertViewerSubscription, child, notifyContext as sharedNotifyContext, openForNotify, readCollection, repo, shot, takeCspViolations, withDashboardAndBrowser } from "./helpers.js";

let dashboard;
let browser;
withDashboardAndBrowser((d, b) => { dashboard = d; browser = b; });
afterEach(() => assert.deepEqual(takeCspViolations(), [], "Content-Security-Policy violations"));

const C = JSON.parse(readFileSync(join(repo, "tfwatcher", "base", "contract.json"), "utf8")).collections;
const TOKEN = "e2e-ws-fcm-token:APA91b" + "w".repeat(120);
const VIEWER_TOKEN = "e2e-ws-viewer-token:APA91b" + "v".repeat(120);
const sha256 = (s) => createHash("sha256").update(s, "utf8").digest("hex");
const subscribersOf = (wid) => readCollection(`${C.workspaces}/${wid}/${C.subscribers}`);
const countersOf = (wid) => readCollection(`${C.workspaces}/${wid}/${C.counters}`);

let seeder;
before(() => { seeder = child(["seed_workspace.py", "serve"]); });
after(async () => { await seeder?.stop(); });

/** A new workspace with one running run: {wid, sids, key}. */
async function newWorkspace() {
  seeder.stdin.write(`${JSON.stringify({ op: "workspace", runs: [{ name: "notify me", status: "running", started_ago: 30 }] })}\n`);
  return JSON.parse(await seeder.next((l) => l.startsWith("{")));
}

const notifyContext = (token = TOKEN) => sharedNotifyContext(browser, dashboard.url, { grant: true, token });
const openWorkspace = (context, url) => openForNotify(context, url, ".ws-list li[data-sid]");

/** Press Notify me; returns the message shown. */
async function pressNotify(page) {
  await page.click('[data-action="notify"]');
  const msg = page.locator("[data-notify-message]");
  await msg.waitFor({ state: "visible", timeout: 30_000 });
  return msg.textContent();
}

const local = (page, key) => page.evaluate((k) => localStorage.getItem(k), key);

test("a viewer of the workspace: workspaces/{wid}/subscribers/{sha256(token)}, counted; a reload or the same token again adds nothing", { timeout: 120_000 }, async () => {
  const ws = await newWorkspace();
  const context = await notifyContext();
  const again = await notifyContext();
  try {
    const page = await openWorkspace(context, `${dashboard.url}/w/${ws.wid}`);
    assert.ok(!page.scripts.some((s) => s.includes("/fcm-")), "firebase/messaging is loaded only on press");
    assert.match(await pressNotify(page), /You'll get a notification on this device when any run of this workspace finishes/);
    assert.equal(await page.locator('[data-action="notify"]').textContent(), "Notifications on");
    await shot(page, "e2e-workspace-notify-on-360x640");

    const subs = await subscribersOf(ws.wid);
    assert.deepEqual(Object.keys(subs), [sha256(TOKEN)]);
    await assertViewerSubscription(subs[sha256(TOKEN)], TOKEN, page);
    assert.deepEqual(await countersOf(ws.wid), { subscribers: { n: 1, last: sha256(TOKEN) } });
    // One subscription for the workspace, not one per run.
    assert.deepEqual(await readCollection(`${C.sessions}/${ws.sids[0]}/${C.subscribers}`), {});
    assert.equal(await local(page, `tfw:notify:${ws.wid}`), sha256(TOKEN));

    // A reload remembers it on this device: nothing to press.
    await page.reload();
    await page.waitForSelector(".ws-list li[data-sid]");
    await page.waitForFunction(() => document.querySelector('[data-action="notify"]')?.textContent === "Notifications on");
    assert.ok(await page.locator('[data-action="notify"]').isDisabled());

    // The same token from another profile (nothing remembered): refused by the rules, read as
    // "already subscribed"; still one document, the counter not stepped again.
    const page2 = await openWorkspace(again, `${dashboard.url}/w/${ws.wid}`);
    assert.match(await pressNotify(page2), /already subscribed to this workspace/);
    assert.deepEqual(Object.keys(await subscribersOf(ws.wid)), [sha256(TOKEN)]);
    assert.deepEqual(await countersOf(ws.wid), { subscribers: { n: 1, last: sha256(TOKEN) } });
  } finally {
    await context.close();
    await again.close();
  }
});

test("the workspace owner link: o-{sha256(workspaceKey:token)}, outside the viewers' cap; the same token again is refused cleanly", { timeout: 120_000 }, async () => {
  const ws = await newWorkspace();
  const viewer = await notifyContext(VIEWER_TOKEN);
  const owner = await notifyContext();
  const owner2 = await notifyContext();
  try {
    const v = await openWorkspace(viewer, `${dashboard.url}/w/${ws.wid}`);
    assert.match(await pressNotify(v), /You'll get a notification/);

    const page = await openWorkspace(owner, `${dashboard.url}/w/${ws.wid}#k=${ws.key}`);
    assert.match(await page.locator(".ws-head h1").textContent(), /owner/);
    assert.match(await pressNotify(page), /You'll get a notification on this device when any run of this workspace/);
    const ownerId = `o-${sha256(`${ws.key}:${TOKEN}`)}`;
    const subs = await subscribersOf(ws.wid);
    assert.deepEqual(Object.keys(subs).sort(), [ownerId, sha256(VIEWER_TOKEN)].sort());
    assert.deepEqual(Object.keys(subs[ownerId]).sort(), ["created", "kind", "lang", "token"], "the key is not stored");
    assert.equal(subs[ownerId].token, TOKEN);
    assert.ok(!JSON.stringify(subs).includes(ws.key));
    const counters = await countersOf(ws.wid);
    assert.deepEqual(counters.subscribers, { n: 1, last: sha256(VIEWER_TOKEN) }, "the owner is not counted among the viewers");
    assert.deepEqual(counters.owners, { n: 1, last: ownerId });
    await shot(page, "e2e-workspace-notify-owner-360x640");

    // Another profile, the same token and the owner link: the rules refuse the same ID again.
    const page2 = await openWorkspace(owner2, `${dashboard.url}/w/${ws.wid}#k=${ws.key}`);
    assert.match(await pressNotify(page2), /already subscribed to this workspace/);
    assert.deepEqual(Object.keys(await subscribersOf(ws.wid)).sort(), [ownerId, sha256(VIEWER_TOKEN)].sort());
    assert.equal((await countersOf(ws.wid)).owners.n, 1, "no second step");
  } finally {
    await viewer.close();
    await owner.close();
    await owner2.close();
  }
});

test("a device enrolled in the workspace, its key gone: the device-proven owner subscription o-{sha256(P:token)} with device: dh", { timeout: 120_000 }, async () => {
  const ws = await newWorkspace();
  const phone = await notifyContext();
  try {
    const page = await openWorkspace(phone, `${dashboard.url}/w/${ws.wid}#k=${ws.key}`);
    await page.waitForFunction((w) => localStorage.getItem(`tfw:device-enrolled:${w}`), ws.wid, { timeout: 30_000 });
    const D = await local(page, "tfw:device");
    const dh = sha256(D);
    const P = sha256(`${ws.key}:${dh}`);
    assert.equal(await local(page, `tfw:device-enrolled:${ws.wid}`), P);
    // The key leaves this device (removed, as "Forget" on the home page would; the enrolment
    // memory stays): the page is no longer the owner link's, but the device is still an owner.
    await page.evaluate((w) => localStorage.removeItem(`tfw:owner:${w}`), ws.wid);
    await page.reload();
    await page.waitForSelector(".ws-list li[data-sid]");
    assert.doesNotMatch(await page.locator(".ws-head h1").textContent(), /owner/);
    assert.match(await pressNotify(page), /You'll get a notification/);

    const id = `o-${sha256(`${P}:${TOKEN}`)}`;
    const subs = await subscribersOf(ws.wid);
    assert.deepEqual(Object.keys(subs), [id]);
    assert.deepEqual(Object.keys(subs[id]).sort(), ["created", "device", "kind", "lang", "token"]);
    assert.equal(subs[id].device, dh);
    assert.equal(subs[id].token, TOKEN);
    const stored = JSON.stringify(subs);
    assert.ok(!stored.includes(D) && !stored.includes(ws.key) && !stored.includes(P), "neither D, the key nor P is stored");
    assert.deepEqual(await countersOf(ws.wid), { owners: { n: 1, last: id } });
  } finally {
    await phone.close();
  }
});
