// Push subscriptions: sessions/{sid}/subscribers/{id}, created by any browser that knows
// the session ID, with exactly {token: string 1..4096, created: request.time, kind: "fcm"}
// and an optional {lang: string <= 16}. Never read, listed, updated or deleted by a browser
// (the matrix in matrix.test.js covers those).
import { test } from 'node:test';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import { Timestamp, addDoc, collection, doc, serverTimestamp, setDoc } from 'firebase/firestore';
import { CALLERS, SID, UNKNOWN_SID, allDocs, seed, useTestEnv } from './setup.js';

const env = useTestEnv();
const valid = (extra = {}) => ({ token: 'fcm-token-abc', created: serverTimestamp(), kind: 'fcm', ...extra });
const without = (field) => { const d = valid(); delete d[field]; return d; };

const cases = [
  // [name, data, allow]
  ['the minimal shape', () => valid(), true],
  ['with lang', () => valid({ lang: 'pt-BR' }), true],
  ['with lang of 16 characters', () => valid({ lang: 'x'.repeat(16) }), true],
  ['with an empty lang', () => valid({ lang: '' }), true],
  ['with a lang of 17 characters', () => valid({ lang: 'x'.repeat(17) }), false],
  ['with a lang that is a number', () => valid({ lang: 7 }), false],
  ['with a null lang', () => valid({ lang: null }), false],
  ['with a token of 4096 characters', () => valid({ token: 't'.repeat(4096) }), true],
  ['with a token of 1 character', () => valid({ token: 't' }), true],
  ['with a token of 4097 characters', () => valid({ token: 't'.repeat(4097) }), false],
  ['with an oversized token (500,000 characters)', () => valid({ token: 't'.repeat(500_000) }), false],
  ['with an empty token', () => valid({ token: '' }), false],
  ['with a token that is a number', () => valid({ token: 42 }), false],
  ['with a token that is a list', () => valid({ token: ['fcm-token-abc'] }), false],
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
  ['an empty document', () => ({}), false],
];

for (const [name, data, allow] of cases) {
  test(`create ${name}: ${allow ? 'allow' : 'deny'}`, async () => {
    await seed(env(), allDocs(), [`sessions/${SID}/subscribers/new`]);
    const db = CALLERS.anonymous.context(env()).firestore();
    const request = setDoc(doc(db, `sessions/${SID}/subscribers/new`), data());
    if (allow) await assertSucceeds(request);
    else await assertFails(request);
  });
}

test('create with an ID chosen by the SDK (add()): allow', async () => {
  await seed(env());
  const db = CALLERS.stranger.context(env()).firestore();
  await assertSucceeds(addDoc(collection(db, `sessions/${SID}/subscribers`), valid({ lang: 'en' })));
});

test('create for a session that does not exist: deny', async () => {
  await seed(env());
  const db = CALLERS.anonymous.context(env()).firestore();
  await assertFails(setDoc(doc(db, `sessions/${UNKNOWN_SID}/subscribers/new`), valid()));
});

test('subscribing again to an existing ID is an update: deny', async () => {
  await seed(env(), allDocs(), [`sessions/${SID}/subscribers/new`]);
  const db = CALLERS.anonymous.context(env()).firestore();
  await assertSucceeds(setDoc(doc(db, `sessions/${SID}/subscribers/new`), valid()));
  await assertFails(setDoc(doc(db, `sessions/${SID}/subscribers/new`), valid()));
});
