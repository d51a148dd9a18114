// Workspaces (issue 19; docs/security.md "Workspaces"): the workspace ID is a read-only link to
// the run index workspaces/{wid}/runs/{sid} (get, and queries of at most 100 documents);
// nothing else of a workspace is readable, nobody lists `workspaces` or queries `runs` across
// workspaces, and no browser writes an index document. The workspace owner key stops any
// running run of the workspace (control/stop-{run} of a session whose private/owner names the
// workspace) and proves owner subscriptions; workspace subscriptions have the shapes and caps
// of a session's. Device enrolment and device-proven Stop/subscriptions: devices.test.js.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  Timestamp, addDoc, collection, collectionGroup, deleteDoc, doc, getCountFromServer, getDoc, getDocs,
  limit, limitToLast, onSnapshot, orderBy, query, serverTimestamp, setDoc, startAfter, updateDoc, where,
  writeBatch,
} from 'firebase/firestore';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CALLERS, CONTRACT, GUESSED_KEY, OTHER_WID, OTHER_WS_KEY, OTHER_WS_SID, OTHER_WS_SID_KEY, OWNER_KEY, ROOT,
  SID, TOKEN, UNKNOWN_WID, WID, WORKSPACES, WS_KEY, WS_SID, WS_SID2, WS_SID_KEY, deviceId, devicePath,
  enrolment, ownerSubId, runIndex, runPath, seed, useTestEnv, viewerId, workspacePath, workspaceWorld,
  DEVICE, OTHER_DEVICE,
} from './setup.js';

const env = useTestEnv();
const C = CONTRACT.collections;
const WS = workspacePath(WID);
const RUNS = `${WS}/${C.runs}`;
const LIMIT = WORKSPACES.max_query_limit;
const PAGE = WORKSPACES.page_size;
const NEW = 'fcm-token-of-a-workspace-viewer:APA91bH' + 'y'.repeat(120);
const tokenN = (i) => `fcm-token-${String(i).padStart(3, '0')}:APA91b` + 'z'.repeat(140);
const valid = (extra = {}) => ({ token: NEW, created: serverTimestamp(), kind: 'fcm', ...extra });
const stopPath = (sid, run = 1) => `sessions/${sid}/control/stop-${run}`;
const stop = (key, run = 1) => ({ key, run, at: serverTimestamp() });

const browser = (caller = 'anonymous') => CALLERS[caller].context(env()).firestore();
/** The workspace world (setup.js), without stop documents (each test creates its own). */
async function world(extra = {}, omit = []) {
  const docs = { ...workspaceWorld(), ...extra };
  await seed(env(), docs, [...omit, ...Object.keys(docs).filter((p) => p.includes('/control/'))]);
}

async function stored(path) {
  let data = null;
  await env().withSecurityRulesDisabled(async (context) => {
    const snap = await getDoc(doc(context.firestore(), path));
    data = snap.exists() ? snap.data() : null;
  });
  return data;
}

/** `n` run index documents of WID (run-000 … ), started one second apart, every third active. */
async function manyRuns(n, wid = WID) {
  await env().withSecurityRulesDisabled(async (context) => {
    const db = context.firestore();
    for (let start = 0; start < n; start += 400) {
      const batch = writeBatch(db);
      for (let i = start; i < Math.min(n, start + 400); i++) {
        const sid = `run-${String(i).padStart(3, '0')}`;
        batch.set(doc(db, runPath(sid, wid)), runIndex(sid, {
          status: i % 3 === 0 ? 'running' : 'finished', started: Timestamp.fromMillis(1.7e12 + i * 1000),
        }));
      }
      await batch.commit();
    }
  });
}

/** One batch: subscription `id` under `parent` and its counter going from n to next. */
function subscribeBatch(db, parent, counter, data, n, { id, next = n + 1, last } = {}) {
  const batch = writeBatch(db);
  batch.set(doc(db, `${parent}/${C.subscribers}/${id}`), data);
  batch.set(doc(db, `${parent}/${C.counters}/${counter}`), { n: next, last: last ?? id });
  return batch.commit();
}
const viewerBatch = (db, data, n, opts = {}) => (
  subscribeBatch(db, opts.parent ?? WS, 'subscribers', data, n, { id: viewerId(data.token), ...opts }));
const ownerBatch = (db, data, n, { key = WS_KEY, ...opts } = {}) => (
  subscribeBatch(db, opts.parent ?? WS, 'owners', data, n, { id: ownerSubId(key, data.token), ...opts }));

test('the rules and these tests use the contract\'s names and numbers (rules cannot read contract.json)', () => {
  const rules = readFileSync(resolve(ROOT, 'firestore.rules'), 'utf8');
  const numbers = {
    workspaceMaxQueryLimit: 'max_query_limit', workspaceMaxViewers: 'max_viewers', workspaceMaxOwners: 'max_owners',
  };
  for (const [name, key] of Object.entries(numbers)) {
    const at = rules.indexOf(`function ${name}() {\n      return ${WORKSPACES[key]};`);
    assert.ok(at > 0, `${name}() returns the contract's workspaces.${key}`);
    assert.ok(rules.slice(Math.max(0, at - 400), at).includes(`workspaces.${key}`), `${name}'s comment names workspaces.${key}`);
  }
  for (const c of ['workspaces', 'runs', 'devices', 'subscribers', 'counters']) {
    assert.ok(rules.includes(`match /${C[c]}/{`), c);
  }
  assert.ok(PAGE <= LIMIT, 'the page\'s query fits the rules');
  const code = rules.split('\n').filter((line) => !line.trim().startsWith('//')).join('\n');
  assert.ok(!/=\*\*\}/.test(code), 'no recursive wildcard (collection-group) rule');
});

describe('the run index: read with the workspace ID, bounded queries', () => {
  test('get a run index document: allow, by anyone with the ID', async () => {
    await world();
    for (const caller of Object.keys(CALLERS)) {
      const snap = await assertSucceeds(getDoc(doc(browser(caller), runPath(WS_SID))));
      assert.equal(snap.data().sid, WS_SID);
    }
    // A workspace ID that does not exist: "no such document", not "permission denied".
    const none = await assertSucceeds(getDoc(doc(browser(), runPath(WS_SID, UNKNOWN_WID))));
    assert.equal(none.exists(), false);
  });

  test('the page\'s queries (active runs; all runs newest first, windowed): allow, this workspace only', async () => {
    await world();
    await manyRuns(200);
    const db = browser();
    const active = await assertSucceeds(getDocs(query(collection(db, RUNS), where('active', '==', true),
      orderBy('started', 'desc'), limit(PAGE))));
    assert.equal(active.size, PAGE);
    assert.ok(active.docs.every((d) => d.data().active));
    const first = await assertSucceeds(getDocs(query(collection(db, RUNS), orderBy('started', 'desc'), limit(PAGE))));
    assert.equal(first.size, PAGE);
    assert.equal(first.docs[0].id, 'run-199');
    const next = await assertSucceeds(getDocs(query(collection(db, RUNS), orderBy('started', 'desc'),
      startAfter(first.docs[PAGE - 1]), limit(PAGE))));
    assert.equal(next.docs[0].id, `run-${199 - PAGE}`);
    const last = await assertSucceeds(getDocs(query(collection(db, RUNS), orderBy('started'), limitToLast(PAGE))));
    assert.equal(last.size, PAGE);
    const other = await assertSucceeds(getDocs(query(collection(db, `${workspacePath(OTHER_WID)}/${C.runs}`), limit(PAGE))));
    assert.deepEqual(other.docs.map((d) => d.id), [OTHER_WS_SID]);
  });

  const sizes = [
    // [query, allow]
    [`limit(${LIMIT})`, (c) => query(c, limit(LIMIT)), true],
    [`limit(${LIMIT + 1})`, (c) => query(c, limit(LIMIT + 1)), false],
    ['limit(1000)', (c) => query(c, limit(1000)), false],
    ['no limit', (c) => c, false],
    ['no limit, ordered', (c) => query(c, orderBy('started', 'desc')), false],
    ['no limit, active only', (c) => query(c, where('active', '==', true)), false],
    [`limitToLast(${LIMIT + 1})`, (c) => query(c, orderBy('started'), limitToLast(LIMIT + 1)), false],
    [`limitToLast(${LIMIT})`, (c) => query(c, orderBy('started'), limitToLast(LIMIT)), true],
  ];
  for (const [name, make, allow] of sizes) {
    test(`a query with ${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await world();
      const request = getDocs(make(collection(browser(), RUNS)));
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  test('a count of the runs (no limit): deny', async () => {
    await world();
    await assertFails(getCountFromServer(collection(browser(), RUNS)));
  });

  test('a listener on the newest runs sees a run that starts later; without a limit it is refused', async () => {
    await world();
    const db = browser();
    const seen = [];
    let unsubscribe;
    const started = new Promise((resolveStarted, reject) => {
      unsubscribe = onSnapshot(query(collection(db, RUNS), orderBy('started', 'desc'), limit(PAGE)), (snap) => {
        seen.push(snap.docs.map((d) => d.id));
        if (snap.docs.some((d) => d.id === 'new-run')) resolveStarted();
      }, reject);
    });
    await seed(env(), { [runPath('new-run')]: runIndex('new-run', { started: Timestamp.now() }) });
    await started;
    unsubscribe();
    assert.equal(seen.at(-1)[0], 'new-run');
    // (The SDK first answers from its cache; the server's answer is what counts.)
    await assertFails(new Promise((res, rej) => {
      const stopListening = onSnapshot(collection(db, RUNS), { includeMetadataChanges: true }, (s) => {
        if (!s.metadata.fromCache) { stopListening(); res(s); }
      }, rej);
    }));
  });

  test('listing workspaces, in any form: deny', async () => {
    await world();
    const db = browser();
    await assertFails(getDocs(collection(db, C.workspaces)));
    await assertFails(getDocs(query(collection(db, C.workspaces), limit(1))));
    await assertFails(getDocs(query(collectionGroup(db, C.workspaces), limit(1))));
    await assertFails(getCountFromServer(collection(db, C.workspaces)));
  });

  test('runs of every workspace at once (collection group), even bounded or filtered by sid: deny', async () => {
    await world();
    const db = browser();
    await assertFails(getDocs(query(collectionGroup(db, C.runs), limit(10))));
    await assertFails(getDocs(query(collectionGroup(db, C.runs), where('sid', '==', WS_SID), limit(1))));
    await assertFails(getDocs(query(collectionGroup(db, C.runs), where('active', '==', true), limit(10))));
    await assertFails(getCountFromServer(collectionGroup(db, C.runs)));
    for (const group of [C.devices, 'private']) {
      await assertFails(getDocs(query(collectionGroup(db, group), limit(10))));
    }
  });

  test('a session link does not lead to its workspace: private/owner (which names it) is unreadable', async () => {
    await world();
    for (const caller of Object.keys(CALLERS)) {
      const db = browser(caller);
      await assertFails(getDoc(doc(db, `sessions/${WS_SID}/private/owner`)));
      await assertFails(getDocs(collection(db, `sessions/${WS_SID}/private`)));
    }
    const session = await assertSucceeds(getDoc(doc(browser(), `sessions/${WS_SID}`)));
    assert.ok(!JSON.stringify(session.data()).includes(WID), 'the session document does not name it');
  });

  test('the workspace document and private/owner (the key): deny, even with the key', async () => {
    await world();
    for (const caller of [...Object.keys(CALLERS)]) {
      const db = browser(caller);
      await assertFails(getDoc(doc(db, WS)));
      await assertFails(getDoc(doc(db, `${WS}/private/owner`)));
      await assertFails(getDocs(collection(db, `${WS}/private`)));
      await assertFails(getDocs(query(collection(db, `${WS}/private`), limit(1))));
    }
  });

  test('writing the run index (create, overwrite, merge, update, delete; with the owner key inside): deny', async () => {
    await world();
    const db = browser();
    const data = { ...runIndex('forged'), key: WS_KEY };
    await assertFails(setDoc(doc(db, runPath('forged')), runIndex('forged')));
    await assertFails(setDoc(doc(db, runPath('forged')), data));
    await assertFails(addDoc(collection(db, RUNS), runIndex('forged')));
    await assertFails(setDoc(doc(db, runPath(WS_SID)), runIndex(WS_SID, { status: 'finished' })));
    await assertFails(setDoc(doc(db, runPath(WS_SID)), { name: 'renamed' }, { merge: true }));
    await assertFails(updateDoc(doc(db, runPath(WS_SID)), { status: 'stopped', active: false }));
    await assertFails(deleteDoc(doc(db, runPath(WS_SID))));
    // ... nor the workspace document or its key.
    await assertFails(setDoc(doc(db, WS), { created: serverTimestamp() }));
    await assertFails(setDoc(doc(db, `${WS}/private/owner`), { key: GUESSED_KEY }));
    await assertFails(setDoc(doc(db, `${workspacePath(UNKNOWN_WID)}/private/owner`), { key: GUESSED_KEY }));
    assert.equal((await stored(runPath(WS_SID))).status, 'running');
    assert.equal(await stored(runPath('forged')), null);
  });
});

describe('Stop with the workspace owner key', () => {
  test('a running session of the workspace: allow, once; the other run of the workspace too', async () => {
    await world();
    const db = browser();
    await assertSucceeds(setDoc(doc(db, stopPath(WS_SID)), stop(WS_KEY)));
    await assertFails(setDoc(doc(db, stopPath(WS_SID)), stop(WS_KEY))); // the replay is an update
    await assertFails(updateDoc(doc(db, stopPath(WS_SID)), { at: serverTimestamp() }));
    await assertFails(getDoc(doc(db, stopPath(WS_SID))));
    await assertSucceeds(setDoc(doc(db, stopPath(WS_SID2)), stop(WS_KEY)));
  });

  const refused = [
    // [name, sid, key]
    ['a session of another workspace', OTHER_WS_SID, WS_KEY],
    ['a session without a workspace', SID, WS_KEY],
    ['another workspace\'s key', WS_SID, OTHER_WS_KEY],
    ['a guessed key', WS_SID, GUESSED_KEY],
    ['the key in lower case', WS_SID, WS_KEY.toLowerCase()],
    ['the workspace ID as the key', WS_SID, WID],
    ['another session\'s owner key', WS_SID, OWNER_KEY],
  ];
  for (const [name, sid, key] of refused) {
    test(`${name}: deny`, async () => {
      await world();
      await assertFails(setDoc(doc(browser(), stopPath(sid)), stop(key)));
    });
  }

  for (const status of ['finished', 'stopped', 'crashed', 'stalled', 'new']) {
    test(`a run of the workspace that is ${status}: deny`, async () => {
      await world();
      await seed(env(), { [`sessions/${WS_SID}`]: { ...workspaceWorld()[`sessions/${WS_SID}`], status } });
      await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_KEY)));
    });
  }

  test('the key does not rotate: it stops run 1, then run 2 of the same session; a past run\'s stop: deny', async () => {
    await world();
    const db = browser();
    await assertSucceeds(setDoc(doc(db, stopPath(WS_SID, 1)), stop(WS_KEY, 1)));
    const session = workspaceWorld()[`sessions/${WS_SID}`];
    await seed(env(), {
      [`sessions/${WS_SID}`]: { ...session, run: 2 },
      [`sessions/${WS_SID}/private/owner`]: { key: 'rotated-key-of-run-2-xxxxxxxxxxxx', workspace: WID },
    });
    await assertFails(setDoc(doc(db, stopPath(WS_SID, 1)), stop(WS_KEY, 1)));
    await assertFails(setDoc(doc(db, stopPath(WS_SID, 3)), stop(WS_KEY, 3)));
    await assertSucceeds(setDoc(doc(db, stopPath(WS_SID, 2)), stop(WS_KEY, 2)));
  });

  test('the session\'s own owner key still works beside the workspace key', async () => {
    await world();
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_SID_KEY)));
  });

  test('a session whose workspace has no owner document: the workspace claim proves nothing, the session key still does', async () => {
    await world({ [`sessions/${WS_SID}/private/owner`]: { key: WS_SID_KEY, workspace: UNKNOWN_WID } });
    await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_KEY)));
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_SID_KEY)));
  });

  for (const [name, workspace] of [['null', null], ['a number', 7], ['a map', { id: WID }], ['empty', '']]) {
    test(`a session whose workspace field is ${name}: the workspace key is refused, the session key works`, async () => {
      await world({ [`sessions/${WS_SID}/private/owner`]: { key: WS_SID_KEY, workspace } });
      await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_KEY)));
      await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_SID_KEY)));
    });
  }

  test('a flood: stops of every run of the workspace and of another, in one batch with the key: deny as a whole', async () => {
    await world();
    const db = browser();
    const batch = writeBatch(db);
    for (const sid of [WS_SID, WS_SID2, OTHER_WS_SID]) batch.set(doc(db, stopPath(sid)), stop(WS_KEY));
    await assertFails(batch.commit());
  });
});

describe('workspace subscriptions: the shapes and caps of a session\'s, no running condition', () => {
  test('a viewer, with the counter step: allow; the same device again: deny (replay)', async () => {
    await world();
    await assertSucceeds(viewerBatch(browser(), valid(), 1));
    await assertFails(viewerBatch(browser(), valid(), 2));
    await assertFails(setDoc(doc(browser(), `${WS}/${C.subscribers}/${viewerId(NEW)}`), valid()));
    assert.deepEqual(await stored(`${WS}/${C.counters}/subscribers`), { n: 2, last: viewerId(NEW) });
  });

  test('every run of the workspace has ended: a viewer and the owner may still subscribe', async () => {
    const docs = workspaceWorld();
    for (const sid of [WS_SID, WS_SID2]) docs[`sessions/${sid}`] = { ...docs[`sessions/${sid}`], status: 'finished' };
    await seed(env(), docs);
    await assertSucceeds(viewerBatch(browser(), valid(), 1));
    await assertSucceeds(ownerBatch(browser(), valid(), 1));
  });

  test('an unknown workspace: a viewer may subscribe (nothing to read there), an owner may not', async () => {
    await world();
    const parent = workspacePath(UNKNOWN_WID);
    await assertSucceeds(viewerBatch(browser(), valid(), 0, { parent }));
    await assertFails(ownerBatch(browser(), valid(), 0, { parent, key: WS_KEY }));
  });

  const shapes = [
    ['an extra field', valid({ sid: WS_SID })],
    ['a device field on a viewer\'s subscription', valid({ device: deviceId(DEVICE) })],
    ['a token of 31 characters', valid({ token: 't'.repeat(31) })],
    ['a token with <script>', valid({ token: 'hello<script>'.padEnd(40, 'x') })],
    ['kind webpush', valid({ kind: 'webpush' })],
    ['created an hour ago', valid({ created: Timestamp.fromMillis(Date.now() - 3600_000) })],
    ['a lang of 17 characters', valid({ lang: 'x'.repeat(17) })],
  ];
  for (const [name, data] of shapes) {
    test(`a viewer's subscription with ${name}: deny`, async () => {
      await world();
      await assertFails(viewerBatch(browser(), data, 1, { id: viewerId(String(data.token)) }));
    });
  }

  const viewerRefused = [
    ['without the counter step', (db) => setDoc(doc(db, `${WS}/${C.subscribers}/${viewerId(NEW)}`), valid())],
    ['with an ID that is not sha256(token)', (db) => viewerBatch(db, valid(), 1, { id: viewerId('other') })],
    ['with the counter stepping by 2', (db) => viewerBatch(db, valid(), 1, { next: 3 })],
    ['counted on the owners\' counter', (db) => subscribeBatch(db, WS, 'owners', valid(), 1, { id: viewerId(NEW) })],
    ['counted on a session\'s counter', (db) => {
      const batch = writeBatch(db);
      batch.set(doc(db, `${WS}/${C.subscribers}/${viewerId(NEW)}`), valid());
      batch.set(doc(db, `sessions/${WS_SID}/${C.counters}/subscribers`), { n: 2, last: viewerId(NEW) });
      return batch.commit();
    }],
  ];
  for (const [name, request] of viewerRefused) {
    test(`a viewer's subscription ${name}: deny`, async () => {
      await world();
      await assertFails(request(browser()));
      assert.deepEqual(await stored(`${WS}/${C.counters}/subscribers`), { n: 1, last: viewerId(TOKEN) });
    });
  }

  test(`a flood of viewers stops at the cap (${WORKSPACES.max_viewers}); the owner still can`, async () => {
    await world({}, [`${WS}/${C.counters}/subscribers`, `${WS}/${C.subscribers}/${viewerId(TOKEN)}`]);
    for (let i = 0; i < WORKSPACES.max_viewers; i++) {
      await assertSucceeds(viewerBatch(browser(), valid({ token: tokenN(i) }), i));
    }
    const over = tokenN(WORKSPACES.max_viewers);
    await assertFails(viewerBatch(browser(), valid({ token: over }), WORKSPACES.max_viewers));
    await assertFails(viewerBatch(browser(), valid({ token: over }), WORKSPACES.max_viewers, { next: WORKSPACES.max_viewers }));
    assert.equal((await stored(`${WS}/${C.counters}/subscribers`)).n, WORKSPACES.max_viewers);
    await assertSucceeds(ownerBatch(browser(), valid(), 1));
  });

  test('many viewers and one counter step in one batch: deny as a whole', async () => {
    await world();
    const db = browser();
    const batch = writeBatch(db);
    for (let i = 0; i < 30; i++) batch.set(doc(db, `${WS}/${C.subscribers}/${viewerId(tokenN(i))}`), valid({ token: tokenN(i) }));
    batch.set(doc(db, `${WS}/${C.counters}/subscribers`), { n: 2, last: viewerId(tokenN(0)) });
    await assertFails(batch.commit());
  });

  test('the owner, proven with the workspace key and counted on counters/owners: allow; again: deny', async () => {
    await world();
    await assertSucceeds(ownerBatch(browser(), valid({ lang: 'en' }), 1));
    await assertFails(ownerBatch(browser(), valid({ lang: 'en' }), 2));
    assert.deepEqual(await stored(`${WS}/${C.counters}/owners`), { n: 2, last: ownerSubId(WS_KEY, NEW) });
    assert.deepEqual(await stored(`${WS}/${C.counters}/subscribers`), { n: 1, last: viewerId(TOKEN) });
    const data = await stored(`${WS}/${C.subscribers}/${ownerSubId(WS_KEY, NEW)}`);
    assert.ok(!JSON.stringify(data).includes(WS_KEY), 'the key is not stored');
  });

  const ownerRefused = [
    ['another workspace\'s key', (db) => ownerBatch(db, valid(), 1, { key: OTHER_WS_KEY })],
    ['the owner key of a run of the workspace', (db) => ownerBatch(db, valid(), 1, { key: WS_SID_KEY })],
    ['a guessed key', (db) => ownerBatch(db, valid(), 1, { key: GUESSED_KEY })],
    ['the device secret of an enrolled device, without saying which device', (db) => ownerBatch(db, valid(), 1, { key: DEVICE })],
    ['without the counter step', (db) => setDoc(doc(db, `${WS}/${C.subscribers}/${ownerSubId(WS_KEY, NEW)}`), valid())],
    ['counted on the viewers\' counter', (db) => subscribeBatch(db, WS, 'subscribers', valid(), 1, { id: ownerSubId(WS_KEY, NEW) })],
    ['the counter stepping by 2', (db) => ownerBatch(db, valid(), 1, { next: 3 })],
    ['the key stored in the document', (db) => ownerBatch(db, valid({ key: WS_KEY }), 1)],
  ];
  for (const [name, request] of ownerRefused) {
    test(`an owner subscription with ${name}: deny`, async () => {
      await world();
      await assertFails(request(browser()));
      assert.deepEqual(await stored(`${WS}/${C.counters}/owners`), { n: 1, last: ownerSubId(WS_KEY, TOKEN) });
    });
  }

  test(`an owner flood stops at the cap (${WORKSPACES.max_owners}); viewers keep their own places`, async () => {
    await world();
    for (let i = 1; i < WORKSPACES.max_owners; i++) {
      await assertSucceeds(ownerBatch(browser(), valid({ token: tokenN(i) }), i));
    }
    for (let i = WORKSPACES.max_owners; i < WORKSPACES.max_owners + 5; i++) {
      await assertFails(ownerBatch(browser(), valid({ token: tokenN(i) }), WORKSPACES.max_owners));
    }
    assert.equal((await stored(`${WS}/${C.counters}/owners`)).n, WORKSPACES.max_owners);
    await assertSucceeds(viewerBatch(browser(), valid(), 1));
  });

  test('the counters: readable (the page needs n); never written alone, deleted or listed', async () => {
    await world();
    const db = browser();
    await assertSucceeds(getDoc(doc(db, `${WS}/${C.counters}/subscribers`)));
    await assertSucceeds(getDoc(doc(db, `${WS}/${C.counters}/owners`)));
    await assertFails(getDoc(doc(db, `${WS}/${C.counters}/other`)));
    await assertFails(getDocs(collection(db, `${WS}/${C.counters}`)));
    await assertFails(setDoc(doc(db, `${WS}/${C.counters}/subscribers`), { n: 2, last: viewerId(NEW) }));
    await assertFails(setDoc(doc(db, `${WS}/${C.counters}/owners`), { n: 2, last: ownerSubId(WS_KEY, NEW) }));
    await assertFails(deleteDoc(doc(db, `${WS}/${C.counters}/owners`)));
    await assertFails(getDoc(doc(db, `${WS}/${C.subscribers}/${viewerId(TOKEN)}`)));
    await assertFails(getDocs(collection(db, `${WS}/${C.subscribers}`)));
  });
});

// ---- The allow/deny table of a workspace (docs/security.md, "Who may do what") ------------
// Callers: an anonymous browser with the workspace ID, a signed-in stranger, and the holder of
// the workspace owner key (an anonymous browser that sends WS_KEY).
const WS_CALLERS = {
  anonymous: { context: (e) => e.unauthenticatedContext(), key: GUESSED_KEY },
  stranger: { context: (e) => e.authenticatedContext('stranger'), key: GUESSED_KEY },
  'workspace owner': { context: (e) => e.unauthenticatedContext(), key: WS_KEY },
};
const OPS = ['get', 'list', 'create', 'update', 'delete'];

function docOps(path, { listQuery = (c) => c } = {}) {
  const at = (key) => (typeof path === 'function' ? path(key) : path);
  const parentOf = (p) => p.slice(0, p.lastIndexOf('/'));
  return {
    get: { run: (db, _d, key) => getDoc(doc(db, at(key))) },
    list: { run: (db, _d, key) => getDocs(listQuery(collection(db, parentOf(at(key))))) },
    create: { omit: (key) => [at(key)], run: (db, data, key) => setDoc(doc(db, at(key)), data) },
    update: { run: (db, data, key) => setDoc(doc(db, at(key)), data) },
    delete: { run: (db, _d, key) => deleteDoc(doc(db, at(key))) },
  };
}

function subscriptionOps(kind) {
  const id = (key) => (kind === 'owners' ? ownerSubId(key, NEW) : viewerId(NEW));
  const seeded = (key) => `${WS}/${C.subscribers}/${kind === 'owners' ? ownerSubId(key, TOKEN) : viewerId(TOKEN)}`;
  const ops = docOps(seeded);
  ops.create = { run: (db, data, key) => subscribeBatch(db, WS, kind, data, 1, { id: id(key) }) };
  ops.update = { run: (db, data, key) => setDoc(doc(db, seeded(key)), { ...data, token: TOKEN }) };
  return ops;
}

const TABLE = {
  // path: [ops, data(key), [get, list, create, update, delete] as anonymous/stranger/owner marks]
  'workspaces collection': [{
    get: { run: (db) => getDoc(doc(db, workspacePath(UNKNOWN_WID))) },
    list: { run: (db) => getDocs(query(collection(db, C.workspaces), limit(5))) },
    create: { run: (db, data) => addDoc(collection(db, C.workspaces), data) },
    update: { run: (db, data) => setDoc(doc(db, WS), data) },
    delete: { run: (db) => deleteDoc(doc(db, WS)) },
  }, (key) => ({ key }), ['---', '---', '---', '---', '---']],
  'workspaces/{wid}': [docOps(WS), (key) => ({ key }), ['---', '---', '---', '---', '---']],
  'private/owner': [docOps(`${WS}/private/owner`), (key) => ({ key }), ['---', '---', '---', '---', '---']],
  'runs/{sid}': [docOps(runPath(WS_SID), { listQuery: (c) => query(c, limit(PAGE)) }),
    (key) => ({ ...runIndex(WS_SID, { status: 'stopped' }), key }), ['+++', '+++', '---', '---', '---']],
  'subscribers (viewer)': [subscriptionOps('subscribers'), () => valid(), ['---', '---', '+++', '---', '---']],
  'subscribers (owner)': [subscriptionOps('owners'), () => valid(), ['---', '---', '--+', '---', '---']],
  'counters/subscribers': [docOps(`${WS}/${C.counters}/subscribers`), () => ({ n: 2, last: viewerId(NEW) }),
    ['+++', '---', '---', '---', '---']],
  'counters/owners': [docOps(`${WS}/${C.counters}/owners`), (key) => ({ n: 2, last: ownerSubId(key, NEW) }),
    ['+++', '---', '---', '---', '---']],
  'devices/{dh}': [docOps(devicePath(WS, deviceId(DEVICE))), (key) => enrolment(key, deviceId(DEVICE)),
    ['---', '---', '--+', '---', '---']],
  'devices/{another dh}': [docOps(devicePath(WS, deviceId(OTHER_DEVICE))),
    () => enrolment(WS_KEY, deviceId(DEVICE)), ['---', '---', '---', '---', '---']],
  'notified/{event}': [docOps(`${WS}/${C.notified}/x`), () => ({ at: serverTimestamp() }), ['---', '---', '---', '---', '---']],
  'unknown subcollection': [docOps(`${WS}/secrets/x`), (key) => ({ key }), ['---', '---', '---', '---', '---']],
};

test('the workspace table covers every operation and caller, and every allow has a deny', () => {
  for (const [path, [ops, , row]] of Object.entries(TABLE)) {
    assert.deepEqual(Object.keys(ops).sort(), [...OPS].sort(), path);
    assert.equal(row.length, OPS.length, path);
    for (const cell of row) assert.match(cell, /^[+-]{3}$/, path);
    if (row.join('').includes('+')) assert.ok(row.join('').includes('-'), path);
  }
});

for (const [path, [ops, data, row]] of Object.entries(TABLE)) {
  describe(`workspace table: ${path}`, () => {
    OPS.forEach((op, i) => {
      Object.keys(WS_CALLERS).forEach((caller, j) => {
        const allow = row[i][j] === '+';
        test(`${op} by ${caller}: ${allow ? 'allow' : 'deny'}`, async () => {
          const { context, key } = WS_CALLERS[caller];
          const { run, omit = () => [] } = ops[op];
          await world({}, omit(key));
          const request = run(context(env()).firestore(), data(key), key);
          if (allow) await assertSucceeds(request);
          else await assertFails(request);
        });
      });
    });
  });
}
