// The allow/deny matrix: every path x operation x caller, one assertion each.
// docs/security.md shows the same table.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  addDoc, collection, deleteDoc, doc, getDoc, getDocs, limit, query, serverTimestamp, setDoc,
  updateDoc, where, writeBatch,
} from 'firebase/firestore';
import {
  CALLERS, DEVICE, SID, TOKEN, UNKNOWN_SID, deviceId, enrolment, ownerSubId, presence, presencePath, seed,
  useTestEnv, viewerId,
} from './setup.js';

const env = useTestEnv();

// Operations on one document path. `create` targets a document that was not seeded;
// `update` and `delete` target a seeded one (a set() on an existing document is an update
// for the rules). `list` lists the collection holding the document.
function docOps(path) {
  if (typeof path === 'function') return docOpsFor(path);
  return docOpsFor(() => path);
}

// `path(key)`: the document's path may depend on the caller's key (the owner subscription).
function docOpsFor(path) {
  const parentOf = (p) => p.slice(0, p.lastIndexOf('/'));
  return {
    get: { run: (db, _data, key) => getDoc(doc(db, path(key))) },
    list: { run: (db, _data, key) => getDocs(collection(db, parentOf(path(key)))) },
    create: { omit: (key) => [path(key)], run: (db, data, key) => setDoc(doc(db, path(key)), data) },
    update: { run: (db, data, key) => setDoc(doc(db, path(key)), data) },
    delete: { run: (db, _data, key) => deleteDoc(doc(db, path(key))) },
  };
}

// A viewer subscription is created the way the dashboard does it: one batch with the step of
// counters/subscribers from 1 (seeded) to 2. The other operations are plain ones.
const NEW_TOKEN = 'fcm-token-matrix:APA91b' + 'q'.repeat(120);
function viewerSubscriptionOps() {
  const path = `sessions/${SID}/subscribers/${viewerId(TOKEN)}`; // seeded
  const ops = docOps(path);
  ops.create = {
    run: (db, data) => {
      const id = viewerId(data.token);
      const batch = writeBatch(db);
      batch.set(doc(db, `sessions/${SID}/subscribers/${id}`), data);
      batch.set(doc(db, `sessions/${SID}/counters/subscribers`), { n: 2, last: id });
      return batch.commit();
    },
  };
  ops.update = { run: (db, data) => setDoc(doc(db, path), { ...data, token: TOKEN }) };
  return ops;
}

// An owner subscription is created the way the dashboard does it: one batch with the step of
// counters/owners from 1 (seeded) to 2, its ID from the caller's key.
function ownerSubscriptionOps() {
  const path = (key) => `sessions/${SID}/subscribers/${ownerSubId(key, TOKEN)}`;
  const ops = docOps(path);
  ops.create = {
    omit: (key) => [path(key)],
    run: (db, data, key) => {
      const batch = writeBatch(db);
      batch.set(doc(db, path(key)), data);
      batch.set(doc(db, `sessions/${SID}/counters/owners`), { n: 2, last: ownerSubId(key, TOKEN) });
      return batch.commit();
    },
  };
  return ops;
}

// What a browser might try on the `sessions` collection itself.
const sessionsCollectionOps = {
  // A share link for an ID that does not exist: allowed, the dashboard says "not found".
  get: { run: (db) => getDoc(doc(db, `sessions/${UNKNOWN_SID}`)) },
  // Enumerating sessions, even with a filter and a limit.
  list: {
    run: (db) => getDocs(query(collection(db, 'sessions'), where('status', '==', 'running'), limit(5))),
  },
  // A new session with an ID chosen by the server.
  create: { run: (db, data) => addDoc(collection(db, 'sessions'), data) },
  // Guessing IDs to change or remove sessions.
  update: { run: (db, data) => updateDoc(doc(db, `sessions/${UNKNOWN_SID}`), data) },
  delete: { run: (db) => deleteDoc(doc(db, `sessions/${UNKNOWN_SID}`)) },
};

// Each path: its operations and the data a caller writes (the caller's key where a key fits).
const PATHS = {
  'session doc': {
    ops: docOps(`sessions/${SID}`),
    data: (key) => ({ schema: 1, status: 'stopped', key }),
  },
  'sessions collection': {
    ops: sessionsCollectionOps,
    data: (key) => ({ schema: 1, status: 'running', key }),
  },
  epochs: {
    ops: docOps(`sessions/${SID}/epochs/000001`),
    data: () => ({ schema: 1, kind: 'train', epoch: 1, step: 1, names: ['loss'], values: [0] }),
  },
  batches: {
    ops: docOps(`sessions/${SID}/batches/train-000000`),
    data: () => ({ schema: 1, kind: 'train', index: 0, n: 1, step: [1], series: [] }),
  },
  summaries: {
    ops: docOps(`sessions/${SID}/summaries/train-head`),
    data: () => ({ schema: 2, kind: 'train', through: 10, levels: [] }),
  },
  tables: {
    ops: docOps(`sessions/${SID}/tables/epochs-0000`),
    data: () => ({ schema: 2, part: 0, n: 1, id: ['000001'], series: [] }),
  },
  'private/owner': {
    ops: docOps(`sessions/${SID}/private/owner`),
    data: (key) => ({ key }),
  },
  // The stop of the current run (1); create is the owner's one stop, update a replay.
  'control/stop-{run}': {
    ops: docOps(`sessions/${SID}/control/stop-1`),
    data: (key) => ({ key, run: 1, at: serverTimestamp() }),
  },
  'control/stop (old layout)': {
    ops: docOps(`sessions/${SID}/control/stop`),
    data: (key) => ({ key, at: serverTimestamp() }),
  },
  'subscribers (viewer)': {
    ops: viewerSubscriptionOps(),
    data: () => ({ token: NEW_TOKEN, created: serverTimestamp(), kind: 'fcm', lang: 'en' }),
  },
  // The ID is o-sha256(caller's key + ":" + token): only the owner key names a valid one.
  'subscribers (owner)': {
    ops: ownerSubscriptionOps(),
    data: () => ({ token: TOKEN, created: serverTimestamp(), kind: 'fcm', lang: 'en' }),
  },
  // A lone write of the counter (without its subscription) is refused; see subscribers.test.js.
  'counters/subscribers': {
    ops: docOps(`sessions/${SID}/counters/subscribers`),
    data: () => ({ n: 2, last: viewerId(NEW_TOKEN) }),
  },
  'counters/owners': {
    ops: docOps(`sessions/${SID}/counters/owners`),
    data: (key) => ({ n: 2, last: ownerSubId(key, NEW_TOKEN) }),
  },
  // A dashboard's presence; the seeded one was written 31 s ago, so a refresh is due
  // (presence.test.js: shapes, the 30 s throttle, the 10 min lease, a flood).
  'presence/now': {
    ops: docOps(presencePath(SID)),
    data: () => presence(),
  },
  'presence/{other}': {
    ops: docOps(`sessions/${SID}/presence/other`),
    data: () => presence(),
  },
  // A device enrolled with the caller's key (devices.test.js: shapes, rotation, replays).
  'devices/{dh}': {
    ops: docOps(`sessions/${SID}/devices/${deviceId(DEVICE)}`),
    data: (key) => enrolment(key, deviceId(DEVICE)),
  },
  notified: {
    ops: docOps(`sessions/${SID}/notified/finished`),
    data: () => ({ at: serverTimestamp() }),
  },
  'unknown collection': {
    ops: docOps('other/x'),
    data: (key) => ({ value: 2, key }),
  },
  'unknown subcollection': {
    ops: docOps(`sessions/${SID}/secrets/x`),
    data: (key) => ({ value: 2, key }),
  },
};

const OPS = ['get', 'list', 'create', 'update', 'delete'];
const CALLER_ORDER = ['anonymous', 'stranger', 'owner'];

// The expected answers. Each cell is three marks, one per caller:
//   anonymous, signed-in stranger, holder of the owner key;  + allow, - deny.
//                           get      list     create   update   delete
const EXPECTED = {
  'session doc':           ['+++',   '---',   '---',   '---',   '---'],
  'sessions collection':   ['+++',   '---',   '---',   '---',   '---'],
  epochs:                  ['+++',   '+++',   '---',   '---',   '---'],
  batches:                 ['+++',   '+++',   '---',   '---',   '---'],
  summaries:               ['+++',   '+++',   '---',   '---',   '---'],
  tables:                  ['+++',   '+++',   '---',   '---',   '---'],
  'private/owner':         ['---',   '---',   '---',   '---',   '---'],
  'control/stop-{run}':    ['---',   '---',   '--+',   '---',   '---'],
  'control/stop (old layout)': ['---', '---', '---',   '---',   '---'],
  'subscribers (viewer)':  ['---',   '---',   '+++',   '---',   '---'],
  'subscribers (owner)':   ['---',   '---',   '--+',   '---',   '---'],
  'counters/subscribers':  ['+++',   '---',   '---',   '---',   '---'],
  'counters/owners':       ['+++',   '---',   '---',   '---',   '---'],
  'presence/now':          ['---',   '---',   '+++',   '+++',   '---'],
  'presence/{other}':      ['---',   '---',   '---',   '---',   '---'],
  'devices/{dh}':          ['---',   '---',   '--+',   '---',   '---'],
  notified:                ['---',   '---',   '---',   '---',   '---'],
  'unknown collection':    ['---',   '---',   '---',   '---',   '---'],
  'unknown subcollection': ['---',   '---',   '---',   '---',   '---'],
};

function expected(path, op, caller) {
  const mark = EXPECTED[path][OPS.indexOf(op)][CALLER_ORDER.indexOf(caller)];
  assert.ok(mark === '+' || mark === '-', `bad mark ${mark} for ${path} ${op} ${caller}`);
  return mark === '+';
}

test('the table covers every path, operation and caller, and every allow has a deny', () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), Object.keys(PATHS).sort());
  for (const [path, row] of Object.entries(EXPECTED)) {
    assert.equal(row.length, OPS.length, path);
    assert.deepEqual(Object.keys(PATHS[path].ops).sort(), [...OPS].sort(), path);
    for (const cell of row) assert.match(cell, /^[+-]{3}$/, path);
    // Every path that allows something also denies something (and is tested doing so).
    if (row.join('').includes('+')) assert.ok(row.join('').includes('-'), path);
  }
  assert.deepEqual(Object.keys(CALLERS).sort(), [...CALLER_ORDER].sort());
});

for (const path of Object.keys(PATHS)) {
  describe(path, () => {
    for (const op of OPS) {
      for (const caller of CALLER_ORDER) {
        const allow = expected(path, op, caller);
        test(`${op} by ${caller}: ${allow ? 'allow' : 'deny'}`, async () => {
          const testEnv = env();
          const { run, omit = [] } = PATHS[path].ops[op];
          const { context, key } = CALLERS[caller];
          await seed(testEnv, undefined, typeof omit === 'function' ? omit(key) : omit);
          const db = context(testEnv).firestore();
          const request = run(db, PATHS[path].data(key), key);
          if (allow) await assertSucceeds(request);
          else await assertFails(request);
        });
      }
    }
  });
}
