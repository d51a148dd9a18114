// The presence document: sessions/{sid}/presence/now = {until, at: request.time}, written by a
// dashboard that shows the session (issue 18: freshness follows attention). Anyone with the
// share link may create it, or refresh it no sooner than 30 s after the stored `at`, while the
// session is new or running; request.time < until <= request.time + 10 min. Browsers never
// read, list or delete it, and no other document ID under presence/ is accepted. A flood of
// refreshes therefore costs the owner at most 2 presence writes a minute.
//
// The emulator's request.time is its real clock (it cannot be faked), so the sequences seed a
// stored `at` some seconds in the past with the rules disabled and then write at once; the
// boundary cases leave ~0.8 s for the round trips.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  Timestamp, addDoc, collection, deleteDoc, doc, getDoc, getDocs, query, serverTimestamp, setDoc,
  updateDoc, where,
} from 'firebase/firestore';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CALLERS, OTHER_SID, PRESENCE_MAX_LEASE_MS, PRESENCE_MIN_INTERVAL_MS, ROOT, SID, UNKNOWN_SID,
  allDocs, pastPresence, presence, presencePath, seed, useTestEnv,
} from './setup.js';

const env = useTestEnv();
const SESSION = `sessions/${SID}`;
const NOW = presencePath(SID);
const at = (offsetMs) => Timestamp.fromMillis(Date.now() + offsetMs);

/** A browser that only knows the share link (no sign-in, no owner key). */
function viewer(caller = 'anonymous') {
  return CALLERS[caller].context(env()).firestore();
}

/** Everything seeded except the presence documents; the session with `status` (or none). */
async function session({ status = 'running', noStatus = false } = {}) {
  const docs = allDocs();
  const omit = Object.keys(docs).filter((p) => p.includes('/presence/'));
  await seed(env(), docs, omit);
  const data = { ...docs[SESSION], status };
  if (noStatus) delete data.status;
  await seed(env(), { [SESSION]: data });
}

/** A viewer whose connection is open (so that a timed write is not slowed by the set-up). */
async function warmViewer(caller = 'anonymous') {
  const db = viewer(caller);
  await getDoc(doc(db, SESSION));
  return db;
}

/** Stores a presence written `ageMs` ago at `path`, the rules disabled, as late as possible. */
async function seedAged(ageMs, path = NOW) {
  await env().withSecurityRulesDisabled(async (context) => {
    const db = context.firestore();
    await getDoc(doc(db, SESSION)); // open the connection first
    await setDoc(doc(db, path), pastPresence(ageMs));
  });
}

/** The stored presence, read with the rules disabled (null when there is none). */
async function stored(path = NOW) {
  let data = null;
  await env().withSecurityRulesDisabled(async (context) => {
    const snap = await getDoc(doc(context.firestore(), path));
    data = snap.exists() ? snap.data() : null;
  });
  return data;
}

test('the rules and these tests use the contract\'s numbers (rules cannot read contract.json)', () => {
  const contract = JSON.parse(readFileSync(resolve(ROOT, 'tfwatcher/base/contract.json'), 'utf8'));
  const { attention, documents, collections } = contract;
  const rules = readFileSync(resolve(ROOT, 'firestore.rules'), 'utf8');
  const lease = attention.presence_max_lease_seconds;
  const interval = attention.presence_min_interval_seconds;
  assert.ok(rules.includes(`function presenceMaxLease() {\n      return duration.value(${lease}, 's');`));
  assert.ok(rules.includes(`function presenceMinInterval() {\n      return duration.value(${interval}, 's');`));
  assert.ok(rules.includes(`match /${collections.presence}/{name}`));
  assert.equal((rules.match(new RegExp(`name == '${documents.presence}'`, 'g')) || []).length, 2);
  assert.equal(PRESENCE_MAX_LEASE_MS, lease * 1000);
  assert.equal(PRESENCE_MIN_INTERVAL_MS, interval * 1000);
  assert.equal(presencePath('x'), `sessions/x/${collections.presence}/${documents.presence}`);
  // The dashboard's lease and refresh fit the rules: a refresh is never throttled.
  assert.ok(attention.presence_lease_seconds <= lease);
  assert.ok(attention.presence_refresh_seconds >= interval);
});

describe('create: the shape of a presence (session running)', () => {
  const cases = [
    // [name, data, allow]
    ['until in 2 min, at = request.time', () => presence(), true],
    ['until in 1 s', () => presence(1_000), true],
    ['until just under 10 min (599.6 s)', () => presence(PRESENCE_MAX_LEASE_MS - 400), true],
    ['until just over 10 min (600.8 s)', () => presence(PRESENCE_MAX_LEASE_MS + 800), false],
    ['until in 11 min', () => presence(11 * 60_000), false],
    ['until in a year', () => presence(365 * 86400_000), false],
    ['until 1 s in the past', () => presence(-1_000), false],
    ['until an hour ago', () => presence(-3600_000), false],
    ['until = at (server time)', () => ({ until: serverTimestamp(), at: serverTimestamp() }), false],
    ['until as a string', () => ({ ...presence(), until: new Date(Date.now() + 60_000).toISOString() }), false],
    ['until as a number', () => ({ ...presence(), until: Date.now() + 60_000 }), false],
    ['until null', () => ({ ...presence(), until: null }), false],
    ['until in a map', () => ({ ...presence(), until: { t: at(60_000) } }), false],
    ['no until', () => ({ at: serverTimestamp() }), false],
    ['no at', () => ({ until: at(120_000) }), false],
    ['at the client clock', () => ({ ...presence(), at: Timestamp.now() }), false],
    ['at an hour ago', () => ({ ...presence(), at: at(-3600_000) }), false],
    ['at in a minute', () => ({ ...presence(), at: at(60_000) }), false],
    ['at as a number', () => ({ ...presence(), at: Date.now() }), false],
    ['at null', () => ({ ...presence(), at: null }), false],
    ['an extra field', () => ({ ...presence(), who: 'me' }), false],
    ['an extra map field', () => ({ ...presence(), x: { until: at(60_000) } }), false],
    ['an empty document', () => ({}), false],
  ];
  for (const [name, data, allow] of cases) {
    test(`${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await session();
      const db = await warmViewer();
      const request = setDoc(doc(db, NOW), data());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  for (const caller of Object.keys(CALLERS)) {
    test(`by ${caller}: allow (the share link is enough)`, async () => {
      await session();
      await assertSucceeds(setDoc(doc(viewer(caller), NOW), presence()));
    });
  }
});

describe('create: only presence/now, only for a session that is new or running', () => {
  for (const status of ['new', 'running']) {
    test(`a ${status} session: allow`, async () => {
      await session({ status });
      await assertSucceeds(setDoc(doc(viewer(), NOW), presence()));
    });
  }
  // finished, crashed and stopped ended; a stalled one is running again once its writer is
  // heard from (the writer re-asserts `running`), and then a refresh is accepted again.
  for (const status of ['finished', 'crashed', 'stopped', 'stalled', 'Running', '']) {
    test(`a session with status ${JSON.stringify(status)}: deny`, async () => {
      await session({ status });
      await assertFails(setDoc(doc(viewer(), NOW), presence()));
    });
  }
  test('a session without status: deny', async () => {
    await session({ noStatus: true });
    await assertFails(setDoc(doc(viewer(), NOW), presence()));
  });
  test('a session that does not exist: deny', async () => {
    await session();
    await assertFails(setDoc(doc(viewer(), presencePath(UNKNOWN_SID)), presence()));
  });
  test('another session that is running: allow (its own presence)', async () => {
    await session();
    await assertSucceeds(setDoc(doc(viewer(), presencePath(OTHER_SID)), presence()));
  });
  for (const id of ['now2', 'Now', 'later', 'x'.repeat(64), 'now ']) {
    test(`document presence/${JSON.stringify(id)}: deny`, async () => {
      await session();
      await assertFails(setDoc(doc(viewer(), `${SESSION}/presence/${id}`), presence()));
    });
  }
  test('a new document in presence by add(): deny', async () => {
    await session();
    await assertFails(addDoc(collection(viewer(), `${SESSION}/presence`), presence()));
  });
  test('a document under presence/now: deny', async () => {
    await session();
    await assertFails(setDoc(doc(viewer(), `${NOW}/more/x`), presence()));
  });
});

describe('update: at most one refresh per 30 s', () => {
  test('a second write right after the first: deny', async () => {
    await session();
    const db = await warmViewer();
    await assertSucceeds(setDoc(doc(db, NOW), presence()));
    await assertFails(setDoc(doc(db, NOW), presence()));
    await assertFails(setDoc(doc(viewer('stranger'), NOW), presence(300_000)));
  });
  const ages = [
    // [stored at this long ago, allow]
    [1_000, false],
    [PRESENCE_MIN_INTERVAL_MS - 800, false], // 29.2 s: a 29 s interval would accept it
    [PRESENCE_MIN_INTERVAL_MS + 200, true], // 30.2 s: a 31 s interval would refuse it
    [PRESENCE_MIN_INTERVAL_MS + 1_000, true],
    [3600_000, true], // an expired presence is refreshed like any other
  ];
  for (const [ageMs, allow] of ages) {
    test(`stored at ${ageMs / 1000} s ago: ${allow ? 'allow' : 'deny'}`, async () => {
      await session();
      const db = await warmViewer();
      await seedAged(ageMs);
      const request = setDoc(doc(db, NOW), presence());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }
  test('after an accepted refresh, the next one waits 30 s again', async () => {
    await session();
    const db = await warmViewer();
    await seedAged(PRESENCE_MIN_INTERVAL_MS + 1_000);
    await assertSucceeds(setDoc(doc(db, NOW), presence()));
    await assertFails(setDoc(doc(db, NOW), presence()));
  });
  test('an update keeps the shape: updateDoc of until alone (at stays old): deny', async () => {
    await session();
    const db = await warmViewer();
    await seedAged(PRESENCE_MIN_INTERVAL_MS + 1_000);
    await assertFails(updateDoc(doc(db, NOW), { until: at(120_000) }));
    await assertFails(updateDoc(doc(db, NOW), { until: at(120_000), at: serverTimestamp(), n: 1 }));
    await assertFails(updateDoc(doc(db, NOW), { until: at(11 * 60_000), at: serverTimestamp() }));
    await assertSucceeds(updateDoc(doc(db, NOW), { until: at(120_000), at: serverTimestamp() }));
  });
  test('a refresh of a session that finished meanwhile: deny', async () => {
    await session({ status: 'finished' });
    const db = await warmViewer();
    await seedAged(PRESENCE_MIN_INTERVAL_MS + 1_000);
    await assertFails(setDoc(doc(db, NOW), presence()));
  });
  test('another document ID, even stored long ago: deny', async () => {
    await session();
    const db = await warmViewer();
    const other = `${SESSION}/presence/other`;
    await seedAged(3600_000, other);
    await assertFails(setDoc(doc(db, other), presence()));
  });
});

describe('a flood', () => {
  test('50 writes in a row from one browser: only the first is accepted', async () => {
    await session();
    const db = await warmViewer();
    const outcomes = [];
    for (let i = 0; i < 50; i += 1) {
      try {
        await setDoc(doc(db, NOW), presence(PRESENCE_MAX_LEASE_MS - 60_000 + i));
        outcomes.push(true);
      } catch (err) {
        assert.equal(err.code, 'permission-denied', String(err));
        outcomes.push(false);
      }
    }
    assert.deepEqual(outcomes, [true, ...Array(49).fill(false)]);
    const data = await stored();
    assert.ok(data.until.toMillis() - data.at.toMillis() <= PRESENCE_MAX_LEASE_MS);
  });
  test('20 writes at once from 20 browsers: one is accepted', async () => {
    await session();
    const dbs = await Promise.all(Array.from({ length: 20 }, (_, i) => (
      warmViewer(i % 2 ? 'anonymous' : 'stranger'))));
    const results = await Promise.allSettled(dbs.map((db) => setDoc(doc(db, NOW), presence())));
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(accepted, 1, JSON.stringify(results.map((r) => r.status)));
  });
});

describe('never readable, listable or deletable by a browser', () => {
  for (const caller of Object.keys(CALLERS)) {
    test(`get, list, query and delete by ${caller}: deny`, async () => {
      await session();
      await seedAged(PRESENCE_MIN_INTERVAL_MS + 1_000);
      const db = viewer(caller);
      await assertFails(getDoc(doc(db, NOW)));
      await assertFails(getDocs(collection(db, `${SESSION}/presence`)));
      await assertFails(getDocs(query(collection(db, `${SESSION}/presence`),
        where('until', '>', Timestamp.now()))));
      await assertFails(deleteDoc(doc(db, NOW)));
      assert.notEqual(await stored(), null);
    });
  }
});
