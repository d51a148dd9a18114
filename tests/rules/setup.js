// Shared set-up for the security-rules tests: one test environment per test file, a clean
// database before every test, seed data written with rules disabled, and the emulator's
// rule-coverage report saved after the file's tests.
//
// Run through `npm test`, which starts a Firestore emulator (python -m tfwatcher.local.emulator)
// and sets FIRESTORE_EMULATOR_HOST for us.
import { after, before, beforeEach } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializeTestEnvironment } from '@firebase/rules-unit-testing';
import { Timestamp, doc, serverTimestamp, setLogLevel, writeBatch } from 'firebase/firestore';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
// mutation.mjs runs the suite against mutated rules, in projects of their own, in parallel.
export const PROJECT = process.env.TFW_RULES_PROJECT || 'demo-tfwatcher';
export const RULES_PATH = process.env.TFW_RULES_PATH || resolve(ROOT, 'firestore.rules');
const MUTANT = Boolean(process.env.TFW_RULES_PATH);
export const COVERAGE_PATH = resolve(ROOT, 'test-artifacts/rules-coverage.html');

// A session ID and owner key of the shapes docs/schema.md gives.
export const SID = 'k7m2x9q';
export const OTHER_SID = 'p3w8hz5';
export const UNKNOWN_SID = 'zz22zz2'; // never written
export const OWNER_KEY = 'Q2hY0c1n_vW3pLx9-RtAeKu7ZmNbD4sF'; // 32 chars, like token_urlsafe(24)
export const OTHER_KEY = 'oT4h3r_kEy-of-the-OTHER-session0';
export const GUESSED_KEY = 'guessed-guessed-guessed-guessed!';

// The most viewer subscriptions a session takes (maxViewers() in firestore.rules).
export const MAX_VIEWERS = 20;
// The most owner subscriptions a session takes (maxOwners() in firestore.rules).
export const MAX_OWNERS = 20;
// The presence rules (presenceMaxLease(), presenceMinInterval() in firestore.rules; the
// contract's attention.presence_max_lease_seconds and presence_min_interval_seconds).
export const PRESENCE_MAX_LEASE_MS = 600_000;
export const PRESENCE_MIN_INTERVAL_MS = 30_000;
export const presencePath = (sid = SID) => `sessions/${sid}/presence/now`;
/** A presence as the dashboard writes it: `until` the client's now + `leaseMs`. */
export const presence = (leaseMs = 120_000) => (
  { until: Timestamp.fromMillis(Date.now() + leaseMs), at: serverTimestamp() });
/** A presence as a dashboard wrote it `ageMs` ago (seeded with the rules disabled). */
export const pastPresence = (ageMs, leaseMs = 120_000) => {
  const at = Date.now() - ageMs;
  return { until: Timestamp.fromMillis(at + leaseMs), at: Timestamp.fromMillis(at) };
};

// FCM registration tokens look like this: [A-Za-z0-9_:-], ~160 characters.
export const TOKEN = 'fcm-token-of-someone:APA91bH' + 'x'.repeat(130);
export const sha256hex = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
/** A viewer's subscription ID: hex SHA-256 of the token. */
export const viewerId = (token) => sha256hex(token);
/** The owner's subscription ID: "o-" + hex SHA-256 of (owner key + ":" + token). */
export const ownerSubId = (key, token) => `o-${sha256hex(`${key}:${token}`)}`;

function emulatorAddress() {
  const value = process.env.FIRESTORE_EMULATOR_HOST;
  if (!value) {
    throw new Error('FIRESTORE_EMULATOR_HOST is not set: run these tests with `npm test`, '
      + 'which starts the Firestore emulator (python -m tfwatcher.local.emulator).');
  }
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i), port: Number(value.slice(i + 1)) };
}

/**
 * Registers the hooks and returns a getter for the RulesTestEnvironment.
 * Call once at the top of a test file.
 */
export function useTestEnv() {
  let testEnv;
  before(async () => {
    setLogLevel('error'); // denied requests are expected; keep the SDK's warnings out of the output
    const { host, port } = emulatorAddress();
    testEnv = await initializeTestEnvironment({
      projectId: PROJECT,
      firestore: { host, port, rules: readFileSync(RULES_PATH, 'utf8') },
    });
  });
  beforeEach(async () => {
    await testEnv.clearFirestore();
  });
  after(async () => {
    try {
      if (!MUTANT) await saveCoverage();
    } finally {
      await testEnv?.cleanup();
    }
  });
  return () => testEnv;
}

/** Saves the emulator's cumulative rule-coverage report (the last test file's copy wins). */
async function saveCoverage() {
  const { host, port } = emulatorAddress();
  const url = `http://${host}:${port}/emulator/v1/projects/${PROJECT}:ruleCoverage.html`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  mkdirSync(dirname(COVERAGE_PATH), { recursive: true });
  writeFileSync(COVERAGE_PATH, await response.text());
}

/** Documents of one session, as the writer and the functions store them (docs/schema.md). */
export function sessionDocs(sid = SID, key = OWNER_KEY) {
  return {
    [`sessions/${sid}`]: {
      schema: 1, status: 'running', mode: 'fit', created: serverTimestamp(),
      heartbeat: serverTimestamp(), ended: null, plan: { epochs: 10, steps: 100 },
      progress: { epoch: 1, batch: 3, step: 3 }, metrics: ['loss', 'val/acc.top 5'],
      latest: [{ name: 'loss', value: 0.5 }], error: null, versions: { tfwatcher: '1.0.0' },
      name: 'demo', nan: false, run: 1,
    },
    [`sessions/${sid}/epochs/000001`]: {
      schema: 1, kind: 'train', epoch: 1, step: 100, names: ['loss'], values: [0.5],
      seconds: 12.5, avg_seconds: 12.5, time: 1.7e9,
    },
    [`sessions/${sid}/batches/train-000000`]: {
      schema: 1, kind: 'train', index: 0, n: 2, step: [1, 2], epoch: [1, 1], batch: [1, 2],
      seconds: [0.1, 0.1], time: [1.7e9, 1.7e9 + 0.1],
      series: [{ name: 'loss', values: [0.9, null] }],
    },
    [`sessions/${sid}/private/owner`]: { key },
    // The stop of run 1, as the owner's browser creates it (run 1 is still running here).
    [`sessions/${sid}/control/stop-1`]: { key, run: 1, at: serverTimestamp() },
    // A stop document of the old layout (before `run`): nobody may touch it either.
    [`sessions/${sid}/control/stop`]: { key, at: serverTimestamp() },
    // One viewer subscription and the counter that counted it; one owner subscription and
    // the owners' counter that counted it.
    [`sessions/${sid}/subscribers/${viewerId(TOKEN)}`]: {
      token: TOKEN, created: serverTimestamp(), kind: 'fcm', lang: 'en',
    },
    [`sessions/${sid}/counters/subscribers`]: { n: 1, last: viewerId(TOKEN) },
    [`sessions/${sid}/subscribers/${ownerSubId(key, TOKEN)}`]: {
      token: TOKEN, created: serverTimestamp(), kind: 'fcm',
    },
    [`sessions/${sid}/counters/owners`]: { n: 1, last: ownerSubId(key, TOKEN) },
    [`sessions/${sid}/notified/finished`]: { at: serverTimestamp() },
    // The owner's phone, enrolled with this key (devices.test.js).
    [`sessions/${sid}/devices/${sha256hex(DEVICE)}`]: {
      proof: sha256hex(`${key}:${sha256hex(DEVICE)}`), at: serverTimestamp(),
    },
    // A viewer's presence, written a little over the minimum interval ago: the next
    // refresh is due.
    [presencePath(sid)]: pastPresence(PRESENCE_MIN_INTERVAL_MS + 1_000),
    // Another document ID under presence/ (no browser can create one): nobody may touch it.
    [`sessions/${sid}/presence/other`]: pastPresence(PRESENCE_MIN_INTERVAL_MS + 1_000),
  };
}

// ---- Workspaces and device enrolment (issue 19; docs/schema.md "Workspaces") ----------
// The contract's numbers (tfwatcher/base/contract.json); the rules spell them as functions
// (workspaces.test.js checks that they agree).
export const CONTRACT = JSON.parse(readFileSync(resolve(ROOT, 'tfwatcher/base/contract.json'), 'utf8'));
export const WORKSPACES = CONTRACT.workspaces; // max_query_limit, page_size, max_viewers, max_owners
const C = CONTRACT.collections;

// Two workspaces ("w" + 18 characters of the session-ID alphabet) with their owner keys, and
// a running session in each (its private/owner names the workspace).
export const WID = `${CONTRACT.workspace_id.prefix}k7m2x9qp3w8hz5r2t4`;
export const OTHER_WID = `${CONTRACT.workspace_id.prefix}p3w8hz5k7m2x9q4t2r`;
export const UNKNOWN_WID = `${CONTRACT.workspace_id.prefix}zz22zz22zz22zz22zz`; // never written
export const WS_KEY = 'Wk5p_Ace-0wnEr-KeY-of-the-wkspc1'; // like token_urlsafe(24)
export const OTHER_WS_KEY = 'OtH3r-wOrkspace_0wner-kEy-xyzw99';
export const WS_SID = 'm4n6p8r2t4v6x8z2b4'; // a run of WID
export const WS_SID_KEY = 'sEss10n-k3y_of-a-run-in-WID-0000';
export const WS_SID2 = 'b4c6d8e2f4g6h8j2k4'; // another run of WID
export const WS_SID2_KEY = 'sEss10n-k3y_of-run-2-in-WID-1111';
export const OTHER_WS_SID = 'q2r4s6t8u2v4w6x8y2'; // a run of OTHER_WID
export const OTHER_WS_SID_KEY = 'sEss10n-k3y_of-a-run-in-OTHER-22';

export const workspacePath = (wid = WID) => `${C.workspaces}/${wid}`;
export const runPath = (sid, wid = WID) => `${workspacePath(wid)}/${C.runs}/${sid}`;

// A device's own secret D (32+ characters, kept in localStorage) and its ID dh = sha256hex(D).
export const DEVICE = 'phone-secret-D-0123456789abcdefghij';
export const OTHER_DEVICE = 'laptop-secret-D-9876543210zyxwvuts';
export const deviceId = (secret) => sha256hex(secret);
/** The enrolment proof for device `dh` with owner key `key`: hex sha256(key + ":" + dh). */
export const enrolProof = (key, dh) => sha256hex(`${key}:${dh}`);
/** An enrolment document as the dashboard writes it. */
export const enrolment = (key, dh) => ({ proof: enrolProof(key, dh), at: serverTimestamp() });
export const devicePath = (parent, dh) => `${parent}/${C.devices}/${dh}`;
/**
 * The ID of an owner subscription proven by an enrolled device: "o-" + sha256hex(P + ":" +
 * token), P being the enrolment's proof (docs/security.md, "Owner secrets").
 */
export const deviceSubId = (key, dh, token) => ownerSubId(enrolProof(key, dh), token);

/** A run index document, as the package writes it (docs/schema.md, the run index). */
export function runIndex(sid, { status = 'running', started = Timestamp.fromMillis(1.7e12), name = 'demo' } = {}) {
  return {
    schema: 2, sid, name, status, active: status === 'new' || status === 'running', run: 1,
    created: started, started, updated: started, heartbeat_every: 10,
    epoch: 1, epochs: 10, step: 3, steps: 100, loss: 0.5, val_loss: null, spark: [0.9, 0.7, 0.5],
  };
}

/** A workspace: its document, owner key, run index, one subscription of each kind, counters. */
export function workspaceDocs(wid, key, sids) {
  const ws = workspacePath(wid);
  const docs = {
    [ws]: { created: serverTimestamp() },
    [`${ws}/private/owner`]: { key },
    [`${ws}/${C.subscribers}/${viewerId(TOKEN)}`]: { token: TOKEN, created: serverTimestamp(), kind: 'fcm' },
    [`${ws}/${C.counters}/subscribers`]: { n: 1, last: viewerId(TOKEN) },
    [`${ws}/${C.subscribers}/${ownerSubId(key, TOKEN)}`]: { token: TOKEN, created: serverTimestamp(), kind: 'fcm' },
    [`${ws}/${C.counters}/owners`]: { n: 1, last: ownerSubId(key, TOKEN) },
    [`${ws}/${C.notified}/x`]: { at: serverTimestamp() },
    // The owner's phone, enrolled with the workspace key.
    [devicePath(ws, deviceId(DEVICE))]: enrolment(key, deviceId(DEVICE)),
  };
  for (const sid of sids) docs[runPath(sid, wid)] = runIndex(sid);
  return docs;
}

/** A session that joined workspace `wid`: private/owner also names the workspace. */
export function workspaceSessionDocs(sid, key, wid) {
  const docs = sessionDocs(sid, key);
  docs[`sessions/${sid}/private/owner`] = { key, workspace: wid };
  return docs;
}

/** Every document the tests use: two sessions and a document outside `sessions`. */
export function allDocs() {
  return {
    ...sessionDocs(SID, OWNER_KEY),
    ...sessionDocs(OTHER_SID, OTHER_KEY),
    [`sessions/${SID}/secrets/x`]: { value: 1 },
    'other/x': { value: 1 },
  };
}

/** allDocs() and two workspaces, each with its running sessions and run index. */
export function workspaceWorld() {
  return {
    ...allDocs(),
    ...workspaceSessionDocs(WS_SID, WS_SID_KEY, WID),
    ...workspaceSessionDocs(WS_SID2, WS_SID2_KEY, WID),
    ...workspaceSessionDocs(OTHER_WS_SID, OTHER_WS_SID_KEY, OTHER_WID),
    ...workspaceDocs(WID, WS_KEY, [WS_SID, WS_SID2]),
    ...workspaceDocs(OTHER_WID, OTHER_WS_KEY, [OTHER_WS_SID]),
  };
}

/**
 * Writes documents with the rules disabled. `docs` maps path -> data; `omit` lists paths
 * to leave out (the target of a create).
 */
export async function seed(testEnv, docs = allDocs(), omit = []) {
  await testEnv.withSecurityRulesDisabled(async (context) => {
    const db = context.firestore();
    const batch = writeBatch(db);
    for (const [path, data] of Object.entries(docs)) {
      if (!omit.includes(path)) batch.set(doc(db, path), data);
    }
    await batch.commit();
  });
}

/** The three kinds of browser the model distinguishes, and the key each one sends. */
export const CALLERS = {
  anonymous: { context: (env) => env.unauthenticatedContext(), key: GUESSED_KEY },
  stranger: { context: (env) => env.authenticatedContext('stranger'), key: GUESSED_KEY },
  // The holder of the owner key is an unauthenticated browser that sends the right key.
  owner: { context: (env) => env.unauthenticatedContext(), key: OWNER_KEY },
};
