// The stop command: sessions/{sid}/control/stop = {key: string, at: request.time}, where
// key equals sessions/{sid}/private/owner.key. Create and update (a second stop) are
// allowed with the right key; everything else about it is denied.
import { describe, test } from 'node:test';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import { Timestamp, deleteField, doc, serverTimestamp, setDoc, updateDoc } from 'firebase/firestore';
import {
  CALLERS, GUESSED_KEY, OTHER_KEY, OTHER_SID, OWNER_KEY, SID, UNKNOWN_SID, allDocs, seed, useTestEnv,
} from './setup.js';

const env = useTestEnv();
const STOP = `sessions/${SID}/control/stop`;
const anHourAgo = () => Timestamp.fromMillis(Date.now() - 3600_000);

/** A browser without sign-in, the way the owner's phone sends the stop. */
function browser(caller = 'owner') {
  return CALLERS[caller].context(env()).firestore();
}

describe('create', () => {
  // The session, its owner key and everything else exist; no stop has been sent yet.
  const fresh = () => seed(env(), allDocs(), [STOP, `sessions/${OTHER_SID}/control/stop`]);

  const cases = [
    // [name, data, allow]
    ['the right key and at = request.time', () => ({ key: OWNER_KEY, at: serverTimestamp() }), true],
    ['a wrong key', () => ({ key: GUESSED_KEY, at: serverTimestamp() }), false],
    ['the owner key of another session', () => ({ key: OTHER_KEY, at: serverTimestamp() }), false],
    ['the right key with different case', () => ({ key: OWNER_KEY.toLowerCase(), at: serverTimestamp() }), false],
    ['an empty key', () => ({ key: '', at: serverTimestamp() }), false],
    ['no key', () => ({ at: serverTimestamp() }), false],
    ['a key that is not a string', () => ({ key: 12345, at: serverTimestamp() }), false],
    ['a null key', () => ({ key: null, at: serverTimestamp() }), false],
    ['a key in a list', () => ({ key: [OWNER_KEY], at: serverTimestamp() }), false],
    ['an oversized key (100,000 chars)', () => ({ key: OWNER_KEY.repeat(3125), at: serverTimestamp() }), false],
    ['an extra field', () => ({ key: OWNER_KEY, at: serverTimestamp(), reason: 'because' }), false],
    ['an extra field with the key inside a map', () => ({ key: OWNER_KEY, at: serverTimestamp(), x: { key: OWNER_KEY } }), false],
    ['no at', () => ({ key: OWNER_KEY }), false],
    ['at an hour ago', () => ({ key: OWNER_KEY, at: anHourAgo() }), false],
    ['at in the future', () => ({ key: OWNER_KEY, at: Timestamp.fromMillis(Date.now() + 3600_000) }), false],
    ['at as a string', () => ({ key: OWNER_KEY, at: new Date().toISOString() }), false],
    ['at as a number', () => ({ key: OWNER_KEY, at: Date.now() }), false],
    ['an empty document', () => ({}), false],
  ];
  for (const [name, data, allow] of cases) {
    test(`${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await fresh();
      const request = setDoc(doc(browser(), STOP), data());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  test('the right key from a signed-in browser: allow (the key is what counts)', async () => {
    await fresh();
    await assertSucceeds(setDoc(doc(browser('stranger'), STOP), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('another session\'s stop with its own key: allow; with this session\'s key: deny', async () => {
    await fresh();
    const other = doc(browser(), `sessions/${OTHER_SID}/control/stop`);
    await assertFails(setDoc(other, { key: OWNER_KEY, at: serverTimestamp() }));
    await assertSucceeds(setDoc(other, { key: OTHER_KEY, at: serverTimestamp() }));
  });

  test('another control document (control/pause) with the right key: deny', async () => {
    await fresh();
    await assertFails(setDoc(doc(browser(), `sessions/${SID}/control/pause`), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('a session that does not exist: deny', async () => {
    await fresh();
    await assertFails(setDoc(doc(browser(), `sessions/${UNKNOWN_SID}/control/stop`), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('an empty database: deny', async () => {
    await assertFails(setDoc(doc(browser(), STOP), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('the owner key exists but the session document does not: deny', async () => {
    await fresh();
    await seed(env(), { [`sessions/${UNKNOWN_SID}/private/owner`]: { key: OWNER_KEY } });
    await assertFails(setDoc(doc(browser(), `sessions/${UNKNOWN_SID}/control/stop`), { key: OWNER_KEY, at: serverTimestamp() }));
    // ... and once the session document is there, the same request passes.
    await seed(env(), { [`sessions/${UNKNOWN_SID}`]: { schema: 1, status: 'running' } });
    await assertSucceeds(setDoc(doc(browser(), `sessions/${UNKNOWN_SID}/control/stop`), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('the session exists but has no owner key: deny', async () => {
    await seed(env(), { [`sessions/${SID}`]: { schema: 1, status: 'running' } });
    await assertFails(setDoc(doc(browser(), STOP), { key: OWNER_KEY, at: serverTimestamp() }));
    await assertFails(setDoc(doc(browser(), STOP), { key: '', at: serverTimestamp() }));
  });

  test('an owner document without a key field: deny', async () => {
    await seed(env(), { [`sessions/${SID}`]: { schema: 1 }, [`sessions/${SID}/private/owner`]: { other: 1 } });
    await assertFails(setDoc(doc(browser(), STOP), { key: OWNER_KEY, at: serverTimestamp() }));
  });
});

describe('update (a second stop)', () => {
  const stopped = () => seed(env()); // includes control/stop, written once already

  test('the right key and a new at: allow', async () => {
    await stopped();
    await assertSucceeds(setDoc(doc(browser(), STOP), { key: OWNER_KEY, at: serverTimestamp() }));
  });

  test('a wrong key: deny', async () => {
    await stopped();
    await assertFails(setDoc(doc(browser(), STOP), { key: GUESSED_KEY, at: serverTimestamp() }));
  });

  test('only at changed through update(): allow (the stored key is the right one)', async () => {
    await stopped();
    await assertSucceeds(updateDoc(doc(browser(), STOP), { at: serverTimestamp() }));
  });

  test('at moved to an hour ago through update(): deny', async () => {
    await stopped();
    await assertFails(updateDoc(doc(browser(), STOP), { at: anHourAgo() }));
  });

  test('an extra field added through update(): deny', async () => {
    await stopped();
    await assertFails(updateDoc(doc(browser(), STOP), { at: serverTimestamp(), reason: 'x' }));
  });

  test('the key removed through update(): deny', async () => {
    await stopped();
    await assertFails(updateDoc(doc(browser(), STOP), { key: deleteField(), at: serverTimestamp() }));
  });
});
