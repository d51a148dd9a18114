// The allow/deny matrix: every path x operation x caller, one assertion each.
// docs/security.md shows the same table.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  addDoc, collection, deleteDoc, doc, getDoc, getDocs, limit, query, serverTimestamp, setDoc,
  updateDoc, where,
} from 'firebase/firestore';
import { CALLERS, SID, UNKNOWN_SID, seed, useTestEnv } from './setup.js';

const env = useTestEnv();

// Operations on one document path. `create` targets a document that was not seeded;
// `update` and `delete` target a seeded one (a set() on an existing document is an update
// for the rules). `list` lists the collection holding the document.
function docOps(path) {
  const parent = path.slice(0, path.lastIndexOf('/'));
  return {
    get: { run: (db) => getDoc(doc(db, path)) },
    list: { run: (db) => getDocs(collection(db, parent)) },
    create: { omit: [path], run: (db, data) => setDoc(doc(db, path), data) },
    update: { run: (db, data) => setDoc(doc(db, path), data) },
    delete: { run: (db) => deleteDoc(doc(db, path)) },
  };
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
  'private/owner': {
    ops: docOps(`sessions/${SID}/private/owner`),
    data: (key) => ({ key }),
  },
  'control/stop': {
    ops: docOps(`sessions/${SID}/control/stop`),
    data: (key) => ({ key, at: serverTimestamp() }),
  },
  subscribers: {
    ops: docOps(`sessions/${SID}/subscribers/sub1`),
    data: () => ({ token: 'fcm-token-abc', created: serverTimestamp(), kind: 'fcm', lang: 'en' }),
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
  'private/owner':         ['---',   '---',   '---',   '---',   '---'],
  'control/stop':          ['---',   '---',   '--+',   '--+',   '---'],
  subscribers:             ['---',   '---',   '+++',   '---',   '---'],
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
          await seed(testEnv, undefined, omit);
          const { context, key } = CALLERS[caller];
          const db = context(testEnv).firestore();
          const request = run(db, PATHS[path].data(key));
          if (allow) await assertSucceeds(request);
          else await assertFails(request);
        });
      }
    }
  });
}
