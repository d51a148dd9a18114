// The stop request: sessions/{sid}/control/stop-{run} = {key, run, at: request.time}, created
// once by the owner's browser. Allowed only as a create, only for the session's current run
// while it is running, only with the owner key (private/owner.key). Nothing under control/ can
// be updated, merged, deleted, read or listed from a browser, so a stop cannot be replayed
// (issue 12: a keyless update of the old control/stop stopped every later run).
import { describe, test } from 'node:test';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  Timestamp, collection, deleteDoc, deleteField, doc, getDoc, getDocs, serverTimestamp, setDoc,
  updateDoc, writeBatch,
} from 'firebase/firestore';
import {
  CALLERS, GUESSED_KEY, OTHER_KEY, OTHER_SID, OWNER_KEY, SID, UNKNOWN_SID, allDocs, seed, useTestEnv,
} from './setup.js';

const env = useTestEnv();
const SESSION = `sessions/${SID}`;
const stopPath = (run, sid = SID) => `sessions/${sid}/control/stop-${run}`;
const STOP1 = stopPath(1);
const anHourAgo = () => Timestamp.fromMillis(Date.now() - 3600_000);
const stop = (run, key = OWNER_KEY) => ({ key, run, at: serverTimestamp() });

/** A browser without sign-in, the way the owner's phone sends the stop. */
function browser(caller = 'owner') {
  return CALLERS[caller].context(env()).firestore();
}

/** Everything seeded except the stop documents; the session in run `run` with `status`. */
async function session({ run = 1, status = 'running', extra = {} } = {}) {
  const docs = allDocs();
  const omit = Object.keys(docs).filter((p) => p.includes('/control/'));
  await seed(env(), docs, omit);
  await seed(env(), { [SESSION]: { ...docs[SESSION], run, status, ...extra } });
}

/** The writer starts the next run of a re-used callback: run + 1, running again. */
async function nextRun(run) {
  const docs = allDocs();
  await seed(env(), { [SESSION]: { ...docs[SESSION], run, status: 'running' } });
}

describe('create: the shape of a stop request (session in run 1, running)', () => {
  const cases = [
    // [name, data, allow]
    ['the right key, run 1 and at = request.time', () => stop(1), true],
    ['a wrong key', () => stop(1, GUESSED_KEY), false],
    ['the owner key of another session', () => stop(1, OTHER_KEY), false],
    ['the right key with different case', () => stop(1, OWNER_KEY.toLowerCase()), false],
    ['an empty key', () => stop(1, ''), false],
    ['no key', () => ({ run: 1, at: serverTimestamp() }), false],
    ['a key that is not a string', () => stop(1, 12345), false],
    ['a null key', () => stop(1, null), false],
    ['a key in a list', () => stop(1, [OWNER_KEY]), false],
    ['an oversized key (100,000 chars)', () => stop(1, OWNER_KEY.repeat(3125)), false],
    ['no run', () => ({ key: OWNER_KEY, at: serverTimestamp() }), false],
    ['run as a string', () => ({ ...stop(1), run: '1' }), false],
    ['run 1.5', () => ({ ...stop(1), run: 1.5 }), false],
    ['run null', () => ({ ...stop(1), run: null }), false],
    ['run 2 in the stop-1 document', () => stop(2), false],
    ['an extra field', () => ({ ...stop(1), reason: 'because' }), false],
    ['an extra field with the key inside a map', () => ({ ...stop(1), x: { key: OWNER_KEY } }), false],
    ['no at', () => ({ key: OWNER_KEY, run: 1 }), false],
    ['at an hour ago', () => ({ ...stop(1), at: anHourAgo() }), false],
    ['at in the future', () => ({ ...stop(1), at: Timestamp.fromMillis(Date.now() + 3600_000) }), false],
    ['at as a string', () => ({ ...stop(1), at: new Date().toISOString() }), false],
    ['at as a number', () => ({ ...stop(1), at: Date.now() }), false],
    ['an empty document', () => ({}), false],
  ];
  for (const [name, data, allow] of cases) {
    test(`${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await session();
      const request = setDoc(doc(browser(), STOP1), data());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  test('the right key from a signed-in browser: allow (the key is what counts)', async () => {
    await session();
    await assertSucceeds(setDoc(doc(browser('stranger'), STOP1), stop(1)));
  });

  test('another session\'s stop with its own key: allow; with this session\'s key: deny', async () => {
    await session();
    const other = doc(browser(), stopPath(1, OTHER_SID));
    await assertFails(setDoc(other, stop(1, OWNER_KEY)));
    await assertSucceeds(setDoc(other, stop(1, OTHER_KEY)));
  });
});

describe('create: which document, which run, which session', () => {
  const ids = [
    // [document ID under control/, data, allow]: the session is in run 1.
    ['stop-1', () => stop(1), true],
    ['stop (the old, run-less document)', () => ({ key: OWNER_KEY, at: serverTimestamp() }), false, 'stop'],
    ['stop with a run', () => stop(1), false, 'stop'],
    ['stop-01', () => stop(1), false],
    ['stop-1 ', () => stop(1), false],
    ['Stop-1', () => stop(1), false],
    ['stop-2 (a future run) with run 2', () => stop(2), false, 'stop-2'],
    ['pause', () => stop(1), false],
  ];
  for (const [name, data, allow, id = name] of ids) {
    test(`control/${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await session();
      const request = setDoc(doc(browser(), `sessions/${SID}/control/${id}`), data());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  test('a past run: the session is in run 3, stop-2 and stop-1 with the key: deny; stop-3: allow', async () => {
    await session({ run: 3 });
    await assertFails(setDoc(doc(browser(), stopPath(2)), stop(2)));
    await assertFails(setDoc(doc(browser(), stopPath(1)), stop(1)));
    await assertSucceeds(setDoc(doc(browser(), stopPath(3)), stop(3)));
  });

  for (const status of ['finished', 'stopped', 'crashed', 'stalled', 'new']) {
    test(`a session that is ${status}, not running: deny`, async () => {
      await session({ status });
      await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
    });
  }

  test('a session document from before `run` (no run field): deny for any run', async () => {
    await session();
    const docs = allDocs();
    const { run: _run, ...old } = docs[SESSION];
    await seed(env(), { [SESSION]: old });
    await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
    await assertFails(setDoc(doc(browser(), stopPath(0)), stop(0)));
    await assertFails(setDoc(doc(browser(), `sessions/${SID}/control/stop-null`), { ...stop(1), run: null }));
  });

  test('a session without status: deny', async () => {
    await session();
    const { status: _s, ...noStatus } = allDocs()[SESSION];
    await seed(env(), { [SESSION]: noStatus });
    await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
  });

  test('a session that does not exist: deny', async () => {
    await session();
    await assertFails(setDoc(doc(browser(), stopPath(1, UNKNOWN_SID)), stop(1)));
  });

  test('an empty database: deny', async () => {
    await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
  });

  test('the owner key exists but the session document does not: deny, then allow once it runs', async () => {
    await session();
    await seed(env(), { [`sessions/${UNKNOWN_SID}/private/owner`]: { key: OWNER_KEY } });
    await assertFails(setDoc(doc(browser(), stopPath(1, UNKNOWN_SID)), stop(1)));
    await seed(env(), { [`sessions/${UNKNOWN_SID}`]: { schema: 1, status: 'running', run: 1 } });
    await assertSucceeds(setDoc(doc(browser(), stopPath(1, UNKNOWN_SID)), stop(1)));
  });

  test('the session exists but has no owner key: deny', async () => {
    await seed(env(), { [SESSION]: { schema: 1, status: 'running', run: 1 } });
    await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
    await assertFails(setDoc(doc(browser(), STOP1), stop(1, '')));
  });

  test('an owner document without a key field: deny', async () => {
    await seed(env(), {
      [SESSION]: { schema: 1, status: 'running', run: 1 }, [`sessions/${SID}/private/owner`]: { other: 1 },
    });
    await assertFails(setDoc(doc(browser(), STOP1), stop(1)));
  });

  test('deeper paths under control/ (control/stop-1/x/y): deny', async () => {
    await session();
    await assertFails(setDoc(doc(browser(), `${STOP1}/x/y`), stop(1)));
  });
});

describe('sequences: a second write, a replay, a flood', () => {
  test('the owner stops run 1: the first create is allowed, every later write to it is not', async () => {
    await session();
    const db = browser();
    const ref = doc(db, STOP1);
    await assertSucceeds(setDoc(ref, stop(1)));
    // The same request again (a second press, a second phone): an update, denied.
    await assertFails(setDoc(ref, stop(1)));
    // Keyless replays of the stored document.
    await assertFails(updateDoc(ref, { at: serverTimestamp() }));
    await assertFails(setDoc(ref, { at: serverTimestamp() }, { merge: true }));
    await assertFails(setDoc(ref, { run: 1, at: serverTimestamp() }, { merge: true }));
    // ... and with the key, or removing it.
    await assertFails(updateDoc(ref, { key: OWNER_KEY, at: serverTimestamp() }));
    await assertFails(updateDoc(ref, { key: deleteField(), at: serverTimestamp() }));
    await assertFails(updateDoc(ref, { at: anHourAgo() }));
    // Not readable, not deletable, not listable, not even by the key holder.
    await assertFails(getDoc(ref));
    await assertFails(deleteDoc(ref));
    await assertFails(getDocs(collection(db, `sessions/${SID}/control`)));
  });

  test('run 2 after a stopped run 1: every keyless or stale write under control/ is refused; the owner stop-2 passes', async () => {
    // Run 1 was stopped by the owner: control/stop-1 holds the key.
    await seed(env());
    await nextRun(2);
    const viewer = browser('anonymous');
    const refused = [
      ['update of stop-1 (at only)', () => updateDoc(doc(viewer, STOP1), { at: serverTimestamp() })],
      ['update of stop-1 (run: 2)', () => updateDoc(doc(viewer, STOP1), { run: 2, at: serverTimestamp() })],
      ['merge into stop-1', () => setDoc(doc(viewer, STOP1), { at: serverTimestamp() }, { merge: true })],
      ['merge run 2 into stop-1', () => setDoc(doc(viewer, STOP1), { run: 2, at: serverTimestamp() }, { merge: true })],
      ['create stop-2 without a key', () => setDoc(doc(viewer, stopPath(2)), { run: 2, at: serverTimestamp() })],
      ['create stop-2 with a wrong key', () => setDoc(doc(viewer, stopPath(2)), stop(2, GUESSED_KEY))],
      ['create stop-2 with an empty key', () => setDoc(doc(viewer, stopPath(2)), stop(2, ''))],
      ['merge into stop-2', () => setDoc(doc(viewer, stopPath(2)), { run: 2, at: serverTimestamp() }, { merge: true })],
      ['set control/stop without a key', () => setDoc(doc(viewer, `sessions/${SID}/control/stop`), { at: serverTimestamp() })],
      ['merge into control/stop', () => setDoc(doc(viewer, `sessions/${SID}/control/stop`), { at: serverTimestamp() }, { merge: true })],
      ['update of control/stop', () => updateDoc(doc(viewer, `sessions/${SID}/control/stop`), { at: serverTimestamp() })],
      ['delete stop-1 (so it could be created again)', () => deleteDoc(doc(viewer, STOP1))],
      ['create stop-1 for a past run, with the key', () => setDoc(doc(browser(), STOP1), stop(1))],
    ];
    for (const [name, request] of refused) {
      await assertFails(request()).catch((err) => { throw new Error(`${name}: ${err.message}`); });
    }
    // The owner's stop for this run still works, once.
    await assertSucceeds(setDoc(doc(browser(), stopPath(2)), stop(2)));
    await assertFails(setDoc(doc(browser(), stopPath(2)), stop(2)));
    // A third run of the same callback: its stop needs the key again.
    await nextRun(3);
    await assertFails(updateDoc(doc(viewer, stopPath(2)), { run: 3, at: serverTimestamp() }));
    await assertFails(setDoc(doc(viewer, stopPath(3)), { run: 3, at: serverTimestamp() }));
    await assertSucceeds(setDoc(doc(browser(), stopPath(3)), stop(3)));
  });

  test('a stop sent after the run ended (status stopped): deny, even for the current run number', async () => {
    await session();
    await assertSucceeds(setDoc(doc(browser(), STOP1), stop(1)));
    await seed(env(), { [SESSION]: { ...allDocs()[SESSION], status: 'stopped' } });
    await assertFails(setDoc(doc(browser(), stopPath(2)), stop(2)));
  });

  test('a batch of stops for runs 1..50 (a flood): deny as a whole', async () => {
    await session();
    const db = browser();
    const batch = writeBatch(db);
    for (let run = 1; run <= 50; run++) batch.set(doc(db, stopPath(run)), stop(run));
    await assertFails(batch.commit());
  });

  test('a batch writing stop-1 twice: keyless, deny; the owner\'s stop plus a merge is one create of a valid stop', async () => {
    await session();
    const viewer = browser('anonymous');
    const keyless = writeBatch(viewer);
    keyless.set(doc(viewer, STOP1), { run: 1, at: serverTimestamp() });
    keyless.set(doc(viewer, STOP1), { at: serverTimestamp() }, { merge: true });
    await assertFails(keyless.commit());
    // The rules see the batch's result for the document: the owner's own stop, created once.
    const db = browser();
    const batch = writeBatch(db);
    batch.set(doc(db, STOP1), stop(1));
    batch.set(doc(db, STOP1), { at: serverTimestamp() }, { merge: true });
    await assertSucceeds(batch.commit());
    await assertFails(setDoc(doc(viewer, STOP1), { at: serverTimestamp() }, { merge: true }));
  });
});
