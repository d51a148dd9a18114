// Push subscriptions (docs/security.md, "Push subscriptions"):
// - a viewer's: sessions/{sid}/subscribers/{sha256hex(token)}, created in ONE batch with
//   sessions/{sid}/counters/subscribers going from {n} to {n: n + 1, last: that ID}; n <= 20;
// - the owner's: sessions/{sid}/subscribers/o-{sha256hex(ownerKey + ":" + token)}, created in
//   ONE batch with sessions/{sid}/counters/owners going from {n} to {n: n + 1, last: that ID};
//   n <= 20 (issue 20: a leaked key cannot flood the owner's slots or push the owner out);
// both exactly {token, created: request.time, kind: "fcm"} plus optional {lang <= 16}, the token
// 32..1024 characters of [A-Za-z0-9_:-], and only while the session is running. Never read,
// listed, updated or deleted by a browser (matrix.test.js covers those).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  Timestamp, deleteDoc, doc, getDoc, serverTimestamp, setDoc, updateDoc, writeBatch,
} from 'firebase/firestore';
import {
  CALLERS, GUESSED_KEY, MAX_OWNERS, MAX_VIEWERS, OTHER_KEY, OTHER_SID, OWNER_KEY, SID, TOKEN, UNKNOWN_SID,
  allDocs, ownerSubId, seed, useTestEnv, viewerId,
} from './setup.js';

const env = useTestEnv();
const NEW = 'fcm-token-of-a-new-viewer:APA91bH' + 'y'.repeat(120);
const COUNTER = `sessions/${SID}/counters/subscribers`;
const OWNERS = `sessions/${SID}/counters/owners`;
const subPath = (id, sid = SID) => `sessions/${sid}/subscribers/${id}`;
const valid = (extra = {}) => ({ token: NEW, created: serverTimestamp(), kind: 'fcm', ...extra });
const without = (field) => { const d = valid(); delete d[field]; return d; };
const viewer = () => CALLERS.anonymous.context(env()).firestore();
const tokenN = (i) => `fcm-token-${String(i).padStart(3, '0')}:APA91b` + 'z'.repeat(140);

/**
 * The dashboard's viewer subscription: one batch, the subscription and the counter step.
 * `n` is the counter before (0 = no counter document); `id`, `next`, `last` override.
 */
function subscribeBatch(db, data, n, { id, next = n + 1, last, sid = SID } = {}) {
  const sub = id ?? viewerId(data.token);
  const batch = writeBatch(db);
  batch.set(doc(db, subPath(sub, sid)), data);
  batch.set(doc(db, `sessions/${sid}/counters/subscribers`), { n: next, last: last ?? sub });
  return batch.commit();
}

/**
 * The dashboard's owner subscription: one batch, the subscription (its ID from `key`) and the
 * step of counters/owners from `n` (0 = no counter document); `id`, `next`, `last` override.
 */
function ownerBatch(db, data, n, { key = OWNER_KEY, id, next = n + 1, last, sid = SID } = {}) {
  const sub = id ?? ownerSubId(key, data.token);
  const batch = writeBatch(db);
  batch.set(doc(db, subPath(sub, sid)), data);
  batch.set(doc(db, `sessions/${sid}/counters/owners`), { n: next, last: last ?? sub });
  return batch.commit();
}

/** The seeded session (running, counters at 1: one viewer, one owner subscription). */
const seeded = () => seed(env());

async function setStatus(status) {
  await seed(env(), { [`sessions/${SID}`]: { ...allDocs()[`sessions/${SID}`], status } });
}

async function counter(path = COUNTER) {
  let data;
  await env().withSecurityRulesDisabled(async (ctx) => {
    data = (await getDoc(doc(ctx.firestore(), path))).data();
  });
  return data;
}

describe('viewer subscription: the document', () => {
  const cases = [
    // [name, data, allow]
    ['the minimal shape', () => valid(), true],
    ['with lang', () => valid({ lang: 'pt-BR' }), true],
    ['with lang of 16 characters', () => valid({ lang: 'x'.repeat(16) }), true],
    ['with an empty lang', () => valid({ lang: '' }), true],
    ['with a lang of 17 characters', () => valid({ lang: 'x'.repeat(17) }), false],
    ['with a lang that is a number', () => valid({ lang: 7 }), false],
    ['with a null lang', () => valid({ lang: null }), false],
    ['with a token of 1024 characters', () => valid({ token: 't'.repeat(1024) }), true],
    ['with a token of 32 characters', () => valid({ token: 't'.repeat(32) }), true],
    ['with a token of all allowed characters', () => valid({ token: 'AZaz09_:-'.repeat(4) }), true],
    ['with a token of 31 characters', () => valid({ token: 't'.repeat(31) }), false],
    ['with a token of 1025 characters', () => valid({ token: 't'.repeat(1025) }), false],
    ['with a token of 4096 characters (accepted before issue 20)', () => valid({ token: 't'.repeat(4096) }), false],
    ['with an oversized token (500,000 characters)', () => valid({ token: 't'.repeat(500_000) }), false],
    ['with the token hello<script> (padded to 40)', () => valid({ token: 'hello<script>'.padEnd(40, 'x') }), false],
    ['with a token holding a space', () => valid({ token: `${NEW.slice(0, 40)} x` }), false],
    ['with a token holding a slash', () => valid({ token: `${NEW.slice(0, 40)}/x` }), false],
    ['with a token holding a dot', () => valid({ token: `${NEW.slice(0, 40)}.x` }), false],
    ['with a token holding a newline', () => valid({ token: `${NEW.slice(0, 40)}\nx` }), false],
    ['with a token holding non-ASCII', () => valid({ token: `${NEW.slice(0, 40)}é` }), false],
    ['with a token holding a quote', () => valid({ token: `${NEW.slice(0, 40)}"` }), false],
    ['with an empty token', () => valid({ token: '' }), false],
    ['with a token that is a number', () => valid({ token: 42 }), false],
    ['with a token that is a list', () => valid({ token: [NEW] }), false],
    ['with a null token', () => valid({ token: null }), false],
    ['without token', () => without('token'), false],
    ['with created an hour ago', () => valid({ created: Timestamp.fromMillis(Date.now() - 3600_000) }), false],
    ['with created as a string', () => valid({ created: new Date().toISOString() }), false],
    ['with created as a number', () => valid({ created: Date.now() }), false],
    ['without created', () => without('created'), false],
    ['with kind "webpush"', () => valid({ kind: 'webpush' }), false],
    ['with kind "FCM"', () => valid({ kind: 'FCM' }), false],
    ['with kind that is a number', () => valid({ kind: 1 }), false],
    ['without kind', () => without('kind'), false],
    ['with an extra key', () => valid({ sid: SID }), false],
    ['with an extra key holding a map', () => valid({ meta: { ua: 'x' } }), false],
  ];
  for (const [name, data, allow] of cases) {
    test(`create ${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await seeded();
      const d = data();
      // An ID the rules can check needs a string token; other tokens get some hex ID.
      const id = typeof d.token === 'string' ? viewerId(d.token) : viewerId(String(d.token));
      const request = subscribeBatch(viewer(), d, 1, { id });
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  test('an empty document: deny', async () => {
    await seeded();
    await assertFails(subscribeBatch(viewer(), {}, 1, { id: viewerId('') }));
  });
});

describe('viewer subscription: the ID and the counter', () => {
  test('the first subscriber of a session creates the counter at 1: allow', async () => {
    const docs = allDocs();
    await seed(env(), docs, [COUNTER, subPath(viewerId(TOKEN))]);
    await assertSucceeds(subscribeBatch(viewer(), valid(), 0));
    assert.deepEqual(await counter(), { n: 1, last: viewerId(NEW) });
  });

  const denied = [
    // [name, (db) => request]
    ['without the counter step (a lone setDoc)', (db) => setDoc(doc(db, subPath(viewerId(NEW))), valid())],
    ['with an ID that is not sha256(token)', (db) => subscribeBatch(db, valid(), 1, { id: viewerId('other') })],
    ['with the ID in upper-case hex', (db) => subscribeBatch(db, valid(), 1, { id: viewerId(NEW).toUpperCase() })],
    ['with a free-form ID', (db) => subscribeBatch(db, valid(), 1, { id: 'sub2' })],
    ['with an ID like the SDK chooses (add())', (db) => subscribeBatch(db, valid(), 1, { id: 'Xk3pQ9vR2mLw8ZtB4nYc' })],
    ['with the counter stepping by 2', (db) => subscribeBatch(db, valid(), 1, { next: 3 })],
    ['with the counter staying at 1', (db) => subscribeBatch(db, valid(), 1, { next: 1 })],
    ['with the counter going back to 0', (db) => subscribeBatch(db, valid(), 1, { next: 0 })],
    ['with the counter as a string', (db) => subscribeBatch(db, valid(), 1, { next: '2' })],
    ['with the counter naming another subscription', (db) => subscribeBatch(db, valid(), 1, { last: viewerId('someone-else') })],
    ['with the counter naming an existing subscription', (db) => subscribeBatch(db, valid(), 1, { last: viewerId(TOKEN) })],
    ['for a session that does not exist', (db) => subscribeBatch(db, valid(), 0, { sid: UNKNOWN_SID })],
  ];
  for (const [name, request] of denied) {
    test(`create ${name}: deny`, async () => {
      await seeded();
      await assertFails(request(viewer()));
      assert.deepEqual(await counter(), { n: 1, last: viewerId(TOKEN) }, 'the counter is unchanged');
    });
  }

  test('a counter step with an extra field: deny', async () => {
    await seeded();
    const db = viewer();
    const batch = writeBatch(db);
    batch.set(doc(db, subPath(viewerId(NEW))), valid());
    batch.set(doc(db, COUNTER), { n: 2, last: viewerId(NEW), extra: 1 });
    await assertFails(batch.commit());
  });

  test('a counter step without any subscription (reserve the cap): deny', async () => {
    await seeded();
    const db = viewer();
    await assertFails(setDoc(doc(db, COUNTER), { n: 2, last: viewerId(NEW) }));
    await assertFails(setDoc(doc(db, COUNTER), { n: MAX_VIEWERS, last: viewerId(NEW) }));
    await assertFails(updateDoc(doc(db, COUNTER), { n: 2 }));
    await assertFails(deleteDoc(doc(db, COUNTER)));
  });

  test('the counter can be read (the dashboard needs n); a subscription cannot', async () => {
    await seeded();
    const db = viewer();
    await assertSucceeds(getDoc(doc(db, COUNTER)));
    await assertFails(getDoc(doc(db, subPath(viewerId(TOKEN)))));
    await assertFails(getDoc(doc(db, `sessions/${SID}/counters/other`)));
  });

  test('subscribing the same token again: deny (already subscribed), counter unchanged', async () => {
    await seeded();
    await assertFails(subscribeBatch(viewer(), { ...valid(), token: TOKEN }, 1));
    assert.deepEqual(await counter(), { n: 1, last: viewerId(TOKEN) });
  });

  test('two browsers that both read n = 1: the first wins, the second is refused and retries with n = 2', async () => {
    await seeded();
    const other = 'fcm-token-of-a-second-viewer:APA91b' + 'w'.repeat(100);
    await assertSucceeds(subscribeBatch(viewer(), valid(), 1));
    await assertFails(subscribeBatch(viewer(), { ...valid(), token: other }, 1));
    await assertSucceeds(subscribeBatch(viewer(), { ...valid(), token: other }, 2));
    assert.deepEqual(await counter(), { n: 3, last: viewerId(other) });
  });

  for (const status of ['finished', 'stopped', 'crashed', 'stalled', 'new']) {
    test(`a session that is ${status}: deny`, async () => {
      await seeded();
      await setStatus(status);
      await assertFails(subscribeBatch(viewer(), valid(), 1));
    });
  }
});

describe('flood and cap', () => {
  test(`${MAX_VIEWERS} viewers, one after another: allow; the next one: deny; the owner still can`, async () => {
    const docs = allDocs();
    await seed(env(), docs, [COUNTER, subPath(viewerId(TOKEN))]);
    for (let i = 0; i < MAX_VIEWERS; i++) {
      await assertSucceeds(subscribeBatch(viewer(), valid({ token: tokenN(i) }), i));
    }
    await assertFails(subscribeBatch(viewer(), valid({ token: tokenN(MAX_VIEWERS) }), MAX_VIEWERS));
    await assertFails(subscribeBatch(viewer(), valid({ token: tokenN(MAX_VIEWERS) }), MAX_VIEWERS, { next: MAX_VIEWERS }));
    assert.equal((await counter()).n, MAX_VIEWERS);
    const owner = CALLERS.owner.context(env()).firestore();
    await assertSucceeds(ownerBatch(owner, valid(), 1));
  });

  test('499 subscriptions and one counter step in one batch: deny as a whole', async () => {
    await seeded();
    const db = viewer();
    const batch = writeBatch(db);
    for (let i = 0; i < 498; i++) batch.set(doc(db, subPath(viewerId(tokenN(i)))), valid({ token: tokenN(i) }));
    batch.set(doc(db, COUNTER), { n: 2, last: viewerId(tokenN(0)) });
    await assertFails(batch.commit());
    assert.deepEqual(await counter(), { n: 1, last: viewerId(TOKEN) });
  });

  test('two subscriptions and one counter step in one batch: deny', async () => {
    await seeded();
    const db = viewer();
    const batch = writeBatch(db);
    batch.set(doc(db, subPath(viewerId(tokenN(1)))), valid({ token: tokenN(1) }));
    batch.set(doc(db, subPath(viewerId(tokenN(2)))), valid({ token: tokenN(2) }));
    batch.set(doc(db, COUNTER), { n: 2, last: viewerId(tokenN(2)) });
    await assertFails(batch.commit());
  });

  test('two subscriptions and two counter steps in one batch: deny', async () => {
    await seeded();
    const db = viewer();
    const batch = writeBatch(db);
    batch.set(doc(db, subPath(viewerId(tokenN(1)))), valid({ token: tokenN(1) }));
    batch.set(doc(db, COUNTER), { n: 2, last: viewerId(tokenN(1)) });
    batch.set(doc(db, subPath(viewerId(tokenN(2)))), valid({ token: tokenN(2) }));
    batch.set(doc(db, COUNTER), { n: 3, last: viewerId(tokenN(2)) });
    await assertFails(batch.commit());
    assert.deepEqual(await counter(), { n: 1, last: viewerId(TOKEN) });
  });

  test('many "owner" subscriptions without the key in one batch: deny', async () => {
    await seeded();
    const db = viewer();
    const batch = writeBatch(db);
    for (let i = 0; i < 50; i++) batch.set(doc(db, subPath(ownerSubId(GUESSED_KEY, tokenN(i)))), valid({ token: tokenN(i) }));
    await assertFails(batch.commit());
  });
});

describe('owner subscription: o-{sha256(key:token)} and counters/owners', () => {
  const owner = () => CALLERS.owner.context(env()).firestore();

  test('with the owner key in the ID and the owners\' counter step: allow; the viewers\' counter is untouched', async () => {
    await seeded();
    await assertSucceeds(ownerBatch(owner(), valid({ lang: 'en' }), 1));
    assert.deepEqual(await counter(OWNERS), { n: 2, last: ownerSubId(OWNER_KEY, NEW) });
    assert.deepEqual(await counter(), { n: 1, last: viewerId(TOKEN) });
  });

  test('the first subscription of a session, with no counter yet: allow (owner); a viewer ID without the counter step: deny', async () => {
    await seed(env(), allDocs(), [COUNTER, OWNERS, subPath(viewerId(TOKEN)), subPath(ownerSubId(OWNER_KEY, TOKEN))]);
    await assertSucceeds(ownerBatch(owner(), valid(), 0));
    assert.deepEqual(await counter(OWNERS), { n: 1, last: ownerSubId(OWNER_KEY, NEW) });
    await assertFails(setDoc(doc(owner(), subPath(viewerId(NEW))), valid()));
  });

  test('from a signed-in browser with the key: allow (the key is what counts)', async () => {
    await seeded();
    const db = CALLERS.stranger.context(env()).firestore();
    await assertSucceeds(ownerBatch(db, valid(), 1));
  });

  const denied = [
    // [name, (db) => request]
    ['without the counter step (a lone setDoc, as before issue 20)', (db) => setDoc(doc(db, subPath(ownerSubId(OWNER_KEY, NEW))), valid())],
    ['counted on the viewers\' counter instead', (db) => subscribeBatch(db, valid(), 1, { id: ownerSubId(OWNER_KEY, NEW) })],
    ['a guessed key', (db) => ownerBatch(db, valid(), 1, { key: GUESSED_KEY })],
    ['another session\'s key', (db) => ownerBatch(db, valid(), 1, { key: OTHER_KEY })],
    ['the key hashed with another token', (db) => ownerBatch(db, valid(), 1, { id: ownerSubId(OWNER_KEY, TOKEN) })],
    ['the ID in upper-case hex', (db) => ownerBatch(db, valid(), 1, { id: `o-${ownerSubId(OWNER_KEY, NEW).slice(2).toUpperCase()}` })],
    ['the key itself as the ID', (db) => ownerBatch(db, valid(), 1, { id: `o-${OWNER_KEY}` })],
    ['sha256(token) without the key', (db) => ownerBatch(db, valid(), 1, { id: `o-${viewerId(NEW)}` })],
    ['the right ID but a malformed token', (db) => ownerBatch(db, valid({ token: 'hello<script>'.padEnd(40, 'x') }), 1)],
    ['the right ID but a token of 1025 characters', (db) => ownerBatch(db, valid({ token: 't'.repeat(1025) }), 1)],
    ['the right ID but an extra field (the key)', (db) => ownerBatch(db, valid({ key: OWNER_KEY }), 1)],
    ['the right ID but created an hour ago', (db) => ownerBatch(db, valid({ created: Timestamp.fromMillis(Date.now() - 3600_000) }), 1)],
    ['the counter stepping by 2', (db) => ownerBatch(db, valid(), 1, { next: 3 })],
    ['the counter staying at 1', (db) => ownerBatch(db, valid(), 1, { next: 1 })],
    ['the counter naming another subscription', (db) => ownerBatch(db, valid(), 1, { last: ownerSubId(OWNER_KEY, 'someone-else'.padEnd(40, 'x')) })],
    ['the counter naming the existing subscription', (db) => ownerBatch(db, valid(), 1, { last: ownerSubId(OWNER_KEY, TOKEN) })],
    ['the counter naming a viewer ID', (db) => ownerBatch(db, valid(), 1, { last: viewerId(NEW) })],
  ];
  for (const [name, request] of denied) {
    test(`with ${name}: deny`, async () => {
      await seeded();
      await assertFails(request(owner()));
      assert.deepEqual(await counter(OWNERS), { n: 1, last: ownerSubId(OWNER_KEY, TOKEN) }, 'the counter is unchanged');
    });
  }

  test('the owners\' counter: readable, never written alone or with a viewer\'s subscription', async () => {
    await seeded();
    const db = owner();
    await assertSucceeds(getDoc(doc(db, OWNERS)));
    await assertFails(setDoc(doc(db, OWNERS), { n: 2, last: ownerSubId(OWNER_KEY, NEW) }));
    await assertFails(setDoc(doc(db, OWNERS), { n: 0, last: ownerSubId(OWNER_KEY, TOKEN) }));
    await assertFails(deleteDoc(doc(db, OWNERS)));
    const batch = writeBatch(db);  // a viewer's subscription counted as an owner's
    batch.set(doc(db, subPath(viewerId(NEW))), valid());
    batch.set(doc(db, OWNERS), { n: 2, last: viewerId(NEW) });
    await assertFails(batch.commit());
  });

  test('another session: its own key allows, this session\'s key does not', async () => {
    await seeded();
    await assertFails(ownerBatch(owner(), valid(), 1, { sid: OTHER_SID }));
    await assertSucceeds(ownerBatch(owner(), valid(), 1, { sid: OTHER_SID, key: OTHER_KEY }));
  });

  test('the same device again: deny (already subscribed), counter unchanged', async () => {
    await seeded();
    await assertFails(ownerBatch(owner(), valid({ token: TOKEN }), 1));
    assert.deepEqual(await counter(OWNERS), { n: 1, last: ownerSubId(OWNER_KEY, TOKEN) });
  });

  for (const status of ['finished', 'stopped', 'crashed']) {
    test(`after the run (${status}): deny, the key grants nothing any more`, async () => {
      await seeded();
      await setStatus(status);
      await assertFails(ownerBatch(owner(), valid(), 1));
    });
  }

  test('a session without an owner key: deny', async () => {
    await seed(env(), { [`sessions/${SID}`]: { schema: 1, status: 'running', run: 1 } });
    await assertFails(ownerBatch(owner(), valid(), 0));
  });

  test('a session that does not exist: deny', async () => {
    await seeded();
    await assertFails(ownerBatch(owner(), valid(), 0, { sid: UNKNOWN_SID }));
  });
});

describe('owner flood (issue 20): a leaked key while the run is live', () => {
  const owner = () => CALLERS.owner.context(env()).firestore();

  test(`${MAX_OWNERS} owner subscriptions in all: allow; the next one: deny (before: 30 of 30 accepted)`, async () => {
    await seeded(); // one owner subscription already: the owner's own phone
    for (let i = 1; i < MAX_OWNERS; i++) {
      await assertSucceeds(ownerBatch(owner(), valid({ token: tokenN(i) }), i));
    }
    for (let i = MAX_OWNERS; i < 30; i++) {
      await assertFails(ownerBatch(owner(), valid({ token: tokenN(i) }), MAX_OWNERS));
      await assertFails(ownerBatch(owner(), valid({ token: tokenN(i) }), MAX_OWNERS, { next: MAX_OWNERS }));
    }
    assert.equal((await counter(OWNERS)).n, MAX_OWNERS);
    // Viewers have their own cap: the owner flood does not take their places.
    await assertSucceeds(subscribeBatch(viewer(), valid(), 1));
  });

  test('tokens chosen so their IDs sort first are refused once the cap is reached', async () => {
    await seeded();
    for (let i = 1; i < MAX_OWNERS; i++) {
      await assertSucceeds(ownerBatch(owner(), valid({ token: tokenN(i) }), i));
    }
    // Search tokens whose o-{sha256} ID sorts before the owner's own subscription.
    const mine = ownerSubId(OWNER_KEY, TOKEN);
    const early = [];
    for (let i = 100; early.length < 5; i++) {
      const token = tokenN(i);
      if (ownerSubId(OWNER_KEY, token) < mine && ownerSubId(OWNER_KEY, token) < 'o-1') early.push(token);
    }
    for (const token of early) {
      await assertFails(ownerBatch(owner(), valid({ token }), MAX_OWNERS));
    }
    assert.equal((await counter(OWNERS)).n, MAX_OWNERS);
  });

  test('many owner subscriptions and one counter step in one batch: deny as a whole', async () => {
    await seeded();
    const db = owner();
    const batch = writeBatch(db);
    for (let i = 0; i < 30; i++) batch.set(doc(db, subPath(ownerSubId(OWNER_KEY, tokenN(i)))), valid({ token: tokenN(i) }));
    batch.set(doc(db, OWNERS), { n: 2, last: ownerSubId(OWNER_KEY, tokenN(0)) });
    await assertFails(batch.commit());
    assert.deepEqual(await counter(OWNERS), { n: 1, last: ownerSubId(OWNER_KEY, TOKEN) });
  });
});
