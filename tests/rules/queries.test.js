// Queries and listeners: what the dashboard does (allowed) next to what would reach past a
// known session (denied): listing sessions, and collection-group queries across sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  collection, collectionGroup, doc, getCountFromServer, getDocs, limit, onSnapshot, orderBy, query, where,
} from 'firebase/firestore';
import { CALLERS, SID, seed, useTestEnv } from './setup.js';

const env = useTestEnv();
const anonymous = () => CALLERS.anonymous.context(env()).firestore();

test('the dashboard\'s queries on a known session: allow, and they return the data', async () => {
  await seed(env());
  const db = anonymous();
  const epochs = await assertSucceeds(getDocs(query(collection(db, `sessions/${SID}/epochs`), orderBy('epoch'))));
  assert.equal(epochs.size, 1);
  const chunks = await assertSucceeds(getDocs(query(collection(db, `sessions/${SID}/batches`), where('kind', '==', 'train'))));
  assert.equal(chunks.size, 1);
  assert.deepEqual(chunks.docs[0].data().step, [1, 2]);
});

test('a listener on a session\'s batches: allow; on its subscribers: deny', async () => {
  await seed(env());
  const db = anonymous();
  const listen = (path) => new Promise((resolve, reject) => {
    const unsubscribe = onSnapshot(collection(db, path),
      (snapshot) => { unsubscribe(); resolve(snapshot); },
      (error) => reject(error));
  });
  const snapshot = await assertSucceeds(listen(`sessions/${SID}/batches`));
  assert.equal(snapshot.size, 1);
  await assertFails(listen(`sessions/${SID}/subscribers`));
});

test('listing sessions, in any form: deny', async () => {
  await seed(env());
  const db = anonymous();
  await assertFails(getDocs(collection(db, 'sessions')));
  await assertFails(getDocs(query(collection(db, 'sessions'), limit(1))));
  await assertFails(getDocs(query(collection(db, 'sessions'), orderBy('created', 'desc'), limit(10))));
  await assertFails(getDocs(query(collectionGroup(db, 'sessions'))));
});

for (const group of ['epochs', 'batches', 'private', 'control', 'subscribers', 'notified']) {
  test(`a collection-group query on ${group} (every session at once): deny`, async () => {
    await seed(env());
    await assertFails(getDocs(collectionGroup(anonymous(), group)));
  });
}

test('counting: a known session\'s chunks (how the dashboard finds system metrics): allow; all sessions or any collection group: deny', async () => {
  await seed(env());
  const db = anonymous();
  const chunks = await assertSucceeds(getCountFromServer(collection(db, `sessions/${SID}/batches`)));
  assert.equal(chunks.data().count, 1);
  await assertFails(getCountFromServer(collection(db, 'sessions')));
  await assertFails(getCountFromServer(query(collection(db, 'sessions'), where('status', '==', 'running'))));
  for (const group of ['sessions', 'batches', 'private', 'subscribers']) {
    await assertFails(getCountFromServer(collectionGroup(db, group)));
  }
  await assertFails(getCountFromServer(collection(db, `sessions/${SID}/private`)));
  await assertFails(getCountFromServer(collection(db, `sessions/${SID}/subscribers`)));
});
