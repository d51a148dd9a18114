// Device enrolment (issue 19, item 6: the owner's phone stays the owner; docs/security.md
// "Owner secrets"). A device keeps a secret D; dh = sha256hex(D). With the current owner key K of
// a running session it creates sessions/{sid}/devices/{dh} = {proof: sha256hex(K + ":" + dh), at};
// with a workspace owner key WK, workspaces/{wid}/devices/{dh} (no running condition). Create-only,
// never readable. Later, a stop request may carry key = D (accepted when devices/sha256(D) exists
// for the session or its workspace), and an owner subscription may be proven by the device:
// {device: dh} in the document, ID "o-" + sha256hex(P + ":" + token), P the enrolment's proof.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  Timestamp, collection, collectionGroup, deleteDoc, doc, getDoc, getDocs, limit, query, serverTimestamp,
  setDoc, updateDoc, writeBatch,
} from 'firebase/firestore';
import {
  CALLERS, CONTRACT, DEVICE, GUESSED_KEY, OTHER_DEVICE, OTHER_KEY, OTHER_SID, OTHER_WID, OTHER_WS_KEY,
  OTHER_WS_SID, OWNER_KEY, SID, TOKEN, UNKNOWN_SID, UNKNOWN_WID, WID, WS_KEY, WS_SID, WS_SID2, WS_SID_KEY,
  deviceId, devicePath, deviceSubId, enrolProof, enrolment, ownerSubId, seed, sha256hex, useTestEnv,
  workspacePath, workspaceWorld, MAX_OWNERS,
} from './setup.js';

const env = useTestEnv();
const C = CONTRACT.collections;
const TABLET = 'tablet-secret-D-of-the-owner-abcdef0123';
const STRANGER_DEVICE = 'stranger-secret-D-never-enrolled-000';
const NEW = 'fcm-token-of-the-owners-phone:APA91bH' + 'y'.repeat(120);
const tokenN = (i) => `fcm-token-${String(i).padStart(3, '0')}:APA91b` + 'z'.repeat(140);
const valid = (extra = {}) => ({ token: NEW, created: serverTimestamp(), kind: 'fcm', ...extra });
const session = (sid) => `sessions/${sid}`;
const stopPath = (sid, run = 1) => `sessions/${sid}/control/stop-${run}`;
const stop = (key, run = 1) => ({ key, run, at: serverTimestamp() });
const browser = (caller = 'anonymous') => CALLERS[caller].context(env()).firestore();
const rotated = (run) => `rotated-owner-key-of-run-${run}-xxxxxxxx`.slice(0, 32);

/** The workspace world without stop documents and without the seeded enrolments. */
async function world(extra = {}) {
  const docs = { ...workspaceWorld(), ...extra };
  const omit = Object.keys(docs).filter((p) => p.includes('/control/') || p.includes(`/${C.devices}/`));
  await seed(env(), docs, omit);
}

/** The writer starts run `run` of `sid` with a new owner key (Session.start() rotates it). */
async function nextRun(sid, run, key, { workspace } = {}) {
  const docs = workspaceWorld();
  await seed(env(), {
    [session(sid)]: { ...docs[session(sid)], run, status: 'running' },
    [`${session(sid)}/private/owner`]: workspace ? { key, workspace } : { key },
  });
}

async function setStatus(sid, status) {
  await seed(env(), { [session(sid)]: { ...workspaceWorld()[session(sid)], status } });
}

async function stored(path) {
  let data = null;
  await env().withSecurityRulesDisabled(async (context) => {
    const snap = await getDoc(doc(context.firestore(), path));
    data = snap.exists() ? snap.data() : null;
  });
  return data;
}

const enrol = (db, parent, key, secret = DEVICE) => (
  setDoc(doc(db, devicePath(parent, deviceId(secret))), enrolment(key, deviceId(secret))));

/** An owner subscription proven by device `secret` enrolled under `parent` with `key`. */
function deviceOwnerBatch(db, parent, n, { key, secret = DEVICE, enrolledWith = key, token = NEW, id, device } = {}) {
  const dh = deviceId(secret);
  const sub = id ?? deviceSubId(enrolledWith, dh, token);
  const batch = writeBatch(db);
  batch.set(doc(db, `${parent}/${C.subscribers}/${sub}`), valid({ token, device: device ?? dh }));
  batch.set(doc(db, `${parent}/${C.counters}/owners`), { n: n + 1, last: sub });
  return batch.commit();
}

describe('session enrolment: the shape, with the current owner key, while running', () => {
  const dh = deviceId(DEVICE);
  const cases = [
    // [name, document ID, data, allow]
    ['the current key, at = request.time', dh, () => enrolment(OWNER_KEY, dh), true],
    ['a guessed key', dh, () => enrolment(GUESSED_KEY, dh), false],
    ['another session\'s key', dh, () => enrolment(OTHER_KEY, dh), false],
    ['no key at all (proof of the device alone)', dh, () => ({ proof: sha256hex(dh), at: serverTimestamp() }), false],
    ['the key itself as the proof', dh, () => ({ proof: OWNER_KEY, at: serverTimestamp() }), false],
    ['the proof made for another device', dh, () => enrolment(OWNER_KEY, deviceId(OTHER_DEVICE)), false],
    ['the proof in upper-case hex', dh, () => ({ proof: enrolProof(OWNER_KEY, dh).toUpperCase(), at: serverTimestamp() }), false],
    ['the proof without the colon', dh, () => ({ proof: sha256hex(OWNER_KEY + dh), at: serverTimestamp() }), false],
    ['no proof', dh, () => ({ at: serverTimestamp() }), false],
    ['a proof that is a number', dh, () => ({ proof: 7, at: serverTimestamp() }), false],
    ['no at', dh, () => ({ proof: enrolProof(OWNER_KEY, dh) }), false],
    ['at an hour ago', dh, () => ({ ...enrolment(OWNER_KEY, dh), at: Timestamp.fromMillis(Date.now() - 3600_000) }), false],
    ['at as a number', dh, () => ({ ...enrolment(OWNER_KEY, dh), at: Date.now() }), false],
    ['an extra field', dh, () => ({ ...enrolment(OWNER_KEY, dh), name: 'my phone' }), false],
    ['the key as an extra field', dh, () => ({ ...enrolment(OWNER_KEY, dh), key: OWNER_KEY }), false],
    ['the secret D as an extra field', dh, () => ({ ...enrolment(OWNER_KEY, dh), secret: DEVICE }), false],
    ['an empty document', dh, () => ({}), false],
    ['an ID in upper-case hex (proof made for it)', dh.toUpperCase(), () => enrolment(OWNER_KEY, dh.toUpperCase()), false],
    ['an ID of 63 hex digits', dh.slice(1), () => enrolment(OWNER_KEY, dh.slice(1)), false],
    ['an ID of 65 hex digits', `${dh}0`, () => enrolment(OWNER_KEY, `${dh}0`), false],
    ['the secret D as the ID', DEVICE, () => enrolment(OWNER_KEY, DEVICE), false],
    ['a short ID', 'phone', () => enrolment(OWNER_KEY, 'phone'), false],
  ];
  for (const [name, id, data, allow] of cases) {
    test(`${name}: ${allow ? 'allow' : 'deny'}`, async () => {
      await world();
      const request = setDoc(doc(browser(), devicePath(session(SID), id)), data());
      if (allow) await assertSucceeds(request);
      else await assertFails(request);
    });
  }

  for (const status of ['finished', 'stopped', 'crashed', 'stalled', 'new']) {
    test(`after the run: a session that is ${status}: deny`, async () => {
      await world();
      await setStatus(SID, status);
      await assertFails(enrol(browser(), session(SID), OWNER_KEY));
    });
  }

  test('a session that does not exist (its owner document does): deny', async () => {
    await world({ [`${session(UNKNOWN_SID)}/private/owner`]: { key: OWNER_KEY } });
    await assertFails(enrol(browser(), session(UNKNOWN_SID), OWNER_KEY));
  });

  test('the workspace owner key enrols nothing in a session (it enrols in the workspace)', async () => {
    await world();
    await assertFails(enrol(browser(), session(WS_SID), WS_KEY));
    await assertSucceeds(enrol(browser(), session(WS_SID), WS_SID_KEY));
  });

  test('with an old (rotated) key: deny; with the key of the run in progress: allow', async () => {
    await world();
    await nextRun(SID, 2, rotated(2));
    await assertFails(enrol(browser(), session(SID), OWNER_KEY));
    await assertSucceeds(enrol(browser(), session(SID), rotated(2)));
  });

  test('replay: a second create of the same device (same or new proof, merge, update): deny; nothing is readable', async () => {
    await world();
    const db = browser();
    const path = devicePath(session(SID), deviceId(DEVICE));
    await assertSucceeds(enrol(db, session(SID), OWNER_KEY));
    await assertFails(enrol(db, session(SID), OWNER_KEY));
    await nextRun(SID, 2, rotated(2));
    await assertFails(enrol(db, session(SID), rotated(2))); // a re-enrolment with run 2's key
    await assertFails(setDoc(doc(db, path), { at: serverTimestamp() }, { merge: true }));
    await assertFails(updateDoc(doc(db, path), { proof: enrolProof(GUESSED_KEY, deviceId(DEVICE)) }));
    await assertFails(deleteDoc(doc(db, path)));
    for (const caller of Object.keys(CALLERS)) {
      const reader = browser(caller);
      await assertFails(getDoc(doc(reader, path)));
      await assertFails(getDocs(collection(reader, `${session(SID)}/${C.devices}`)));
      await assertFails(getDocs(query(collectionGroup(reader, C.devices), limit(1))));
    }
    // What is stored proves the key without revealing it, and never holds D.
    const data = await stored(path);
    assert.deepEqual(Object.keys(data).sort(), ['at', 'proof']);
    assert.equal(data.proof, enrolProof(OWNER_KEY, deviceId(DEVICE)));
    assert.ok(!JSON.stringify(data).includes(OWNER_KEY) && !JSON.stringify(data).includes(DEVICE));
  });

  test('many devices in one batch with the key: each is checked (all valid: allow; one forged: deny as a whole)', async () => {
    await world();
    const db = browser();
    const forged = writeBatch(db);
    forged.set(doc(db, devicePath(session(SID), deviceId(TABLET))), enrolment(OWNER_KEY, deviceId(TABLET)));
    forged.set(doc(db, devicePath(session(SID), deviceId(STRANGER_DEVICE))), enrolment(GUESSED_KEY, deviceId(STRANGER_DEVICE)));
    await assertFails(forged.commit());
    assert.equal(await stored(devicePath(session(SID), deviceId(TABLET))), null);
  });
});

describe('workspace enrolment: with the workspace owner key, no running condition', () => {
  const WS = workspacePath(WID);

  test('the workspace key: allow, even when no run is running; a replay: deny; never readable', async () => {
    await world();
    for (const sid of [WS_SID, WS_SID2]) await setStatus(sid, 'finished');
    const db = browser();
    await assertSucceeds(enrol(db, WS, WS_KEY));
    await assertFails(enrol(db, WS, WS_KEY));
    await assertFails(getDoc(doc(db, devicePath(WS, deviceId(DEVICE)))));
    await assertFails(getDocs(collection(db, `${WS}/${C.devices}`)));
    await assertFails(deleteDoc(doc(db, devicePath(WS, deviceId(DEVICE)))));
  });

  const refused = [
    ['another workspace\'s key', WS, OTHER_WS_KEY],
    ['the owner key of a run of the workspace', WS, WS_SID_KEY],
    ['a guessed key', WS, GUESSED_KEY],
    ['the workspace ID as the key', WS, WID],
    ['a workspace that does not exist', workspacePath(UNKNOWN_WID), WS_KEY],
  ];
  for (const [name, parent, key] of refused) {
    test(`${name}: deny`, async () => {
      await world();
      await assertFails(enrol(browser(), parent, key));
    });
  }
});

describe('Stop by an enrolled device (key = D)', () => {
  test('a loop of five fits, each with a new owner key: the phone enrolled during fit 1 stops every one; nothing else does', async () => {
    await world();
    const phone = browser();
    await assertSucceeds(enrol(phone, session(SID), OWNER_KEY));
    let key = OWNER_KEY;
    for (let run = 1; run <= 5; run++) {
      if (run > 1) {
        const old = key;
        key = rotated(run);
        await nextRun(SID, run, key);
        await assertFails(setDoc(doc(browser(), stopPath(SID, run)), stop(old, run)), `run ${run}: the previous key`);
      }
      await assertFails(setDoc(doc(browser(), stopPath(SID, run)), stop(STRANGER_DEVICE, run)), `run ${run}: a device not enrolled`);
      await assertFails(setDoc(doc(browser(), stopPath(SID, run)), stop(deviceId(DEVICE), run)), `run ${run}: dh instead of D`);
      await assertFails(setDoc(doc(browser(), stopPath(SID, run)), stop(DEVICE.toUpperCase(), run)), `run ${run}: D in upper case`);
      await assertSucceeds(setDoc(doc(phone, stopPath(SID, run)), stop(DEVICE, run)), `run ${run}: the phone`);
      await assertFails(setDoc(doc(phone, stopPath(SID, run)), stop(DEVICE, run)), `run ${run}: the replay`);
    }
  });

  test('the enrolled device of one session stops nothing in another session', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    await assertFails(setDoc(doc(browser(), stopPath(OTHER_SID)), stop(DEVICE)));
    await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(DEVICE)));
  });

  test('after the run ended: deny, even for an enrolled device', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    await setStatus(SID, 'finished');
    await assertFails(setDoc(doc(browser(), stopPath(SID)), stop(DEVICE)));
  });

  test('a workspace-enrolled device stops any running run of the workspace, and none of another workspace', async () => {
    await world();
    await assertSucceeds(enrol(browser(), workspacePath(WID), WS_KEY, TABLET));
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID)), stop(TABLET)));
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID2)), stop(TABLET)));
    await assertFails(setDoc(doc(browser(), stopPath(OTHER_WS_SID)), stop(TABLET)));
    await assertFails(setDoc(doc(browser(), stopPath(SID)), stop(TABLET)));
    // A later run of a workspace session, with a rotated session key: still.
    await nextRun(WS_SID, 2, rotated(2), { workspace: WID });
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID, 2)), stop(TABLET, 2)));
    await setStatus(WS_SID2, 'crashed');
    await assertFails(setDoc(doc(browser(), stopPath(WS_SID2, 2)), stop(TABLET, 2)));
  });

  test('a device enrolled in the other workspace: deny here, allow there', async () => {
    await world();
    await assertSucceeds(enrol(browser(), workspacePath(OTHER_WID), OTHER_WS_KEY, TABLET));
    await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(TABLET)));
    await assertSucceeds(setDoc(doc(browser(), stopPath(OTHER_WS_SID)), stop(TABLET)));
  });

  test('a session-enrolled device of a workspace run, whose workspace owner document is missing: still allow', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(WS_SID), WS_SID_KEY));
    await seed(env(), { [`${session(WS_SID)}/private/owner`]: { key: WS_SID_KEY, workspace: UNKNOWN_WID } });
    await assertFails(setDoc(doc(browser(), stopPath(WS_SID)), stop(WS_KEY)));
    await assertSucceeds(setDoc(doc(browser(), stopPath(WS_SID)), stop(DEVICE)));
  });
});

describe('owner subscriptions proven by an enrolled device ({device: dh}, ID from the enrolment proof)', () => {
  const OWNERS = (sid) => `${session(sid)}/${C.counters}/owners`;

  test('a session device, in a later run with a rotated key: allow; the document holds dh, never D or a key', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    await nextRun(SID, 2, rotated(2));
    await assertSucceeds(deviceOwnerBatch(browser(), session(SID), 1, { key: OWNER_KEY }));
    const sub = await stored(`${session(SID)}/${C.subscribers}/${deviceSubId(OWNER_KEY, deviceId(DEVICE), NEW)}`);
    assert.equal(sub.device, deviceId(DEVICE));
    for (const secret of [DEVICE, OWNER_KEY, rotated(2), enrolProof(OWNER_KEY, deviceId(DEVICE))]) {
      assert.ok(!JSON.stringify(sub).includes(secret));
    }
    assert.deepEqual(await stored(OWNERS(SID)), { n: 2, last: deviceSubId(OWNER_KEY, deviceId(DEVICE), NEW) });
    // The same device and token again: an update, denied.
    await assertFails(deviceOwnerBatch(browser(), session(SID), 2, { key: OWNER_KEY }));
  });

  const refused = [
    // [name, options] with DEVICE enrolled in SID with OWNER_KEY
    ['the ID from D instead of the proof', { id: ownerSubId(DEVICE, NEW) }],
    ['the ID from dh', { id: ownerSubId(deviceId(DEVICE), NEW) }],
    ['a device that is not enrolled (its proof made with the current key)', { key: OWNER_KEY, secret: STRANGER_DEVICE }],
    ['the proof of a guessed key', { key: GUESSED_KEY }],
    ['another session\'s proof', { key: OTHER_KEY }],
    ['a device field in upper-case hex', { key: OWNER_KEY, device: deviceId(DEVICE).toUpperCase() }],
    ['a device field that is D', { key: OWNER_KEY, device: DEVICE }],
    ['a device field that is a number', { key: OWNER_KEY, device: 7 }],
    ['the ID of the owner key but a device field', { id: ownerSubId(OWNER_KEY, NEW) }],
  ];
  for (const [name, options] of refused) {
    test(`${name}: deny`, async () => {
      await world();
      await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
      await assertFails(deviceOwnerBatch(browser(), session(SID), 1, { key: OWNER_KEY, ...options }));
      assert.deepEqual(await stored(OWNERS(SID)), { n: 1, last: ownerSubId(OWNER_KEY, TOKEN) });
    });
  }

  test('the proof\'s ID without saying which device: deny', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    const sub = deviceSubId(OWNER_KEY, deviceId(DEVICE), NEW);
    const db = browser();
    const batch = writeBatch(db);
    batch.set(doc(db, `${session(SID)}/${C.subscribers}/${sub}`), valid());
    batch.set(doc(db, OWNERS(SID)), { n: 2, last: sub });
    await assertFails(batch.commit());
  });

  test('after the run ended: deny, even for an enrolled device', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    await setStatus(SID, 'stopped');
    await assertFails(deviceOwnerBatch(browser(), session(SID), 1, { key: OWNER_KEY }));
  });

  test('a session subscription proven with the workspace key, or by a workspace device: allow in the workspace only', async () => {
    await world();
    await assertSucceeds(enrol(browser(), workspacePath(WID), WS_KEY, TABLET));
    const db = browser();
    const keyBatch = (sid, n, key) => {
      const sub = ownerSubId(key, NEW);
      const batch = writeBatch(db);
      batch.set(doc(db, `${session(sid)}/${C.subscribers}/${sub}`), valid());
      batch.set(doc(db, OWNERS(sid)), { n: n + 1, last: sub });
      return batch.commit();
    };
    await assertFails(keyBatch(OTHER_WS_SID, 1, WS_KEY));
    await assertFails(keyBatch(SID, 1, WS_KEY));
    await assertSucceeds(keyBatch(WS_SID, 1, WS_KEY));
    const tablet = { key: WS_KEY, secret: TABLET, token: tokenN(1) };
    await assertFails(deviceOwnerBatch(db, session(OTHER_WS_SID), 1, tablet));
    await assertFails(deviceOwnerBatch(db, session(SID), 1, tablet));
    await assertSucceeds(deviceOwnerBatch(db, session(WS_SID), 2, tablet));
  });

  test('a workspace subscription: by a workspace device, allow; by a device enrolled in one of its runs only, deny', async () => {
    await world();
    const WS = workspacePath(WID);
    await assertSucceeds(enrol(browser(), session(WS_SID), WS_SID_KEY, DEVICE));
    await assertSucceeds(enrol(browser(), WS, WS_KEY, TABLET));
    await assertFails(deviceOwnerBatch(browser(), WS, 1, { key: WS_SID_KEY, secret: DEVICE }));
    await assertFails(deviceOwnerBatch(browser(), workspacePath(OTHER_WID), 1, { key: WS_KEY, secret: TABLET }));
    await assertSucceeds(deviceOwnerBatch(browser(), WS, 1, { key: WS_KEY, secret: TABLET }));
    assert.deepEqual(await stored(`${WS}/${C.counters}/owners`),
      { n: 2, last: deviceSubId(WS_KEY, deviceId(TABLET), NEW) });
  });

  test(`device-proven subscriptions share the owners' cap (${MAX_OWNERS})`, async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(SID), OWNER_KEY));
    for (let i = 1; i < MAX_OWNERS; i++) {
      await assertSucceeds(deviceOwnerBatch(browser(), session(SID), i, { key: OWNER_KEY, token: tokenN(i) }));
    }
    await assertFails(deviceOwnerBatch(browser(), session(SID), MAX_OWNERS, { key: OWNER_KEY, token: tokenN(MAX_OWNERS) }));
    assert.equal((await stored(OWNERS(SID))).n, MAX_OWNERS);
  });

  test('the heaviest check (a workspace run, device enrolled in the workspace, both lookups) fits the rules\' read limits', async () => {
    await world();
    await assertSucceeds(enrol(browser(), session(WS_SID), WS_SID_KEY, TABLET));
    await assertSucceeds(enrol(browser(), workspacePath(WID), WS_KEY, DEVICE));
    // The session enrolment of DEVICE does not exist, so both device lookups run.
    await assertSucceeds(deviceOwnerBatch(browser(), session(WS_SID), 1, { key: WS_KEY, secret: DEVICE }));
    // A session-enrolled device whose ID does not match falls through to the workspace's, and fails.
    await assertFails(deviceOwnerBatch(browser(), session(WS_SID), 2, { key: GUESSED_KEY, secret: TABLET }));
  });
});
