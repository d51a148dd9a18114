// The rules mutation check: each mutant of firestore.rules (a condition removed, a limit
// moved by one, an extra grant) must make at least one rules test fail. Run with
//   PATH=../../.venv/bin:$PATH npm run mutation
// (it starts the emulator). Each mutant runs the test files named for it in a project of its
// own (TFW_RULES_PROJECT / TFW_RULES_PATH, read by setup.js), two at a time; TFW_MUTANTS=text
// runs only the mutants whose name contains `text` (e.g. TFW_MUTANTS=presence). Prints one line
// per mutant and exits non-zero when a mutant that should be killed survives. A mutant marked
// `equivalent` changes nothing a request can observe; it is run and reported, not required.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const RULES = readFileSync(resolve(HERE, '../../firestore.rules'), 'utf8');
const ALL = ['matrix.test.js', 'stop.test.js', 'subscribers.test.js', 'queries.test.js', 'presence.test.js'];
const STOP = ['stop.test.js', 'matrix.test.js'];
const SUBS = ['subscribers.test.js', 'matrix.test.js'];
const PRES = ['presence.test.js', 'matrix.test.js'];

// [name, text in firestore.rules (must occur exactly once), replacement, files, equivalent?];
// the text may also be a list of [text, replacement] pairs, all applied.
const MUTANTS = [
  // Stop
  ['stop: no hasOnly (extra fields)', "d.keys().hasOnly(['key', 'run', 'at'])", 'true', STOP],
  ['stop: no hasAll', "d.keys().hasAll(['key', 'run', 'at'])", 'true', STOP, 'a missing field fails the type check that reads it'],
  ['stop: key not type-checked', 'd.key is string', 'true', STOP, 'a non-string never equals the stored key'],
  ['stop: run not type-checked', 'd.run is int', 'true', STOP, "'1' or 1.5 never equals the session's int run / the ID"],
  ['stop: at not type-checked', 'd.at is timestamp', 'true', STOP, 'at == request.time implies a timestamp'],
  ['stop: at not request.time', 'd.at == request.time', 'true', STOP],
  ['stop: ID not tied to run', "command == 'stop-' + string(d.run)", 'true', STOP],
  ['stop: run not the current run', "get(sessionPath(sid)).data.get('run', null) == d.run", 'true', STOP],
  ['stop: status not checked', "&& isRunning(sid)\n          && d.key == ownerKey(sid)", '&& d.key == ownerKey(sid)', STOP],
  ['stop: key not checked', '&& d.key == ownerKey(sid);', ';', STOP],
  ['stop: update allowed', 'allow create: if isValidStop(sid, command);', 'allow create, update: if isValidStop(sid, command);', STOP],
  ['stop: delete allowed', 'allow create: if isValidStop(sid, command);', 'allow create: if isValidStop(sid, command);\n        allow delete: if true;', STOP],
  ['stop: read allowed', 'allow create: if isValidStop(sid, command);', 'allow create: if isValidStop(sid, command);\n        allow read: if true;', STOP],
  ['running: any status', "data.get('status', null) == 'running'", "data.get('status', null) != 'crashed'", ALL],
  // Subscriptions
  ['sub: no hasOnly', "d.keys().hasOnly(['token', 'created', 'kind', 'lang'])", 'true', SUBS],
  ['sub: token min 31', 'd.token.size() >= 32', 'd.token.size() >= 31', SUBS],
  ['sub: token max 1025', 'd.token.size() <= 1024', 'd.token.size() <= 1025', SUBS],
  ['sub: token charset not checked', "d.token.matches('^[A-Za-z0-9_:-]+$')", 'true', SUBS],
  ['sub: created not request.time', 'd.created == request.time', 'true', SUBS],
  ['sub: kind not fcm', "d.kind == 'fcm'", 'true', SUBS],
  ['sub: lang 17', 'd.lang.size() <= 16', 'd.lang.size() <= 17', SUBS],
  ['sub: running not checked', "(d.lang is string && d.lang.size() <= 16))\n          && isRunning(sid)", '(d.lang is string && d.lang.size() <= 16))', SUBS],
  ['viewer: ID not sha256(token)', "return id == hashing.sha256(request.resource.data.token).toHexString().lower()\n          && isCountedAs(sid, 'subscribers', id);", "return isCountedAs(sid, 'subscribers', id);", SUBS],
  ['viewer: not counted', "&& isCountedAs(sid, 'subscribers', id);", ';', SUBS],
  ['owner: not counted', "&& isCountedAs(sid, 'owners', id);", ';', SUBS],
  ['owner: counted on the viewers\' counter', "isCountedAs(sid, 'owners', id)", "isCountedAs(sid, 'subscribers', id)", SUBS],
  ['counted: last not this ID', 'return after.last == id', 'return true', SUBS],
  ['counted: step not +1', '&& after.n == before + 1;', ';', SUBS, 'the counter rule already requires n == stored n + 1 for the write that names this ID (kept as a second check)'],
  ['owner: key not in the ID', "hashing.sha256(ownerKey(sid) + ':' + request.resource.data.token)", 'hashing.sha256(request.resource.data.token)', SUBS],
  ['sub: update allowed', "allow create: if isValidSubscription(sid)", "allow update: if true;\n        allow create: if isValidSubscription(sid)", SUBS],
  ['counter: step not +1', 'd.n == before + 1', 'd.n > before', SUBS, 'the subscription rule already requires n after == n before + 1 (kept as a second check)'],
  // The two checks of the step, removed together: the cap could be jumped to in one batch.
  ['viewer and counter: step not +1 on either side', [['&& after.n == before + 1;', ';'], ['d.n == before + 1', 'd.n > before']], null, SUBS],
  ['counter: cap 21', 'function maxViewers() {\n      return 20;', 'function maxViewers() {\n      return 21;', SUBS],
  ['owners: cap 21', 'function maxOwners() {\n      return 20;', 'function maxOwners() {\n      return 21;', SUBS],
  ['owners: the viewers\' cap', "d.n <= (name == 'owners' ? maxOwners() : maxViewers())", 'd.n <= maxViewers()', SUBS, 'both caps are 20'],
  ['counter: last not checked', "d.last.matches(name == 'owners' ? '^o-[0-9a-f]{64}$' : '^[0-9a-f]{64}$')", 'true', SUBS, 'existsAfter(subscribers/last) and the subscription rule tie last to a created ID'],
  ['counter: last may exist already', "&& !exists(/databases/$(database)/documents/sessions/$(sid)/subscribers/$(d.last))", '', SUBS],
  ['counter: subscription not required', "&& existsAfter(/databases/$(database)/documents/sessions/$(sid)/subscribers/$(d.last));", ';', SUBS],
  ['counter: no hasOnly', "d.keys().hasOnly(['n', 'last'])", 'true', SUBS],
  ['counter: listable', "allow get: if name in ['subscribers', 'owners'];", "allow read: if name in ['subscribers', 'owners'];", SUBS, "a list passes only if it can return nothing but the two counters, which get allows anyway (a plain list is still denied: tested)"],
  ['counter: any name readable', "allow get: if name in ['subscribers', 'owners'];", 'allow get: if true;', SUBS],
  ['counter: owners not writable', "allow create: if name in ['subscribers', 'owners'] && isCounterStep(sid, name, 0);", "allow create: if name == 'subscribers' && isCounterStep(sid, name, 0);", SUBS],
  // Presence
  ['presence: no hasOnly', "p.keys().hasOnly(['until', 'at'])", 'true', PRES],
  ['presence: no hasAll', "p.keys().hasAll(['until', 'at'])", 'true', PRES, 'a missing field fails the type check that reads it'],
  ['presence: at not type-checked', '&& p.at is timestamp\n', '\n', PRES, 'at == request.time implies a timestamp'],
  ['presence: at not request.time', 'p.at == request.time', 'true', PRES],
  ['presence: until not type-checked', '&& p.until is timestamp\n', '\n', PRES, 'comparing a non-timestamp with request.time is an error, which denies'],
  ['presence: until may be past', 'p.until > request.time', 'true', PRES],
  ['presence: until may be now', 'p.until > request.time', 'p.until >= request.time', PRES],
  ['presence: no lease bound', '&& p.until <= request.time + presenceMaxLease()', '', PRES],
  ['presence: lease 601 s', "return duration.value(600, 's');", "return duration.value(601, 's');", PRES],
  ['presence: lease 599 s', "return duration.value(600, 's');", "return duration.value(599, 's');", PRES],
  ['presence: no throttle', '&& request.time >= resource.data.at + presenceMinInterval()\n', '\n', PRES],
  ['presence: throttle 29 s', "return duration.value(30, 's');", "return duration.value(29, 's');", PRES],
  ['presence: throttle 31 s', "return duration.value(30, 's');", "return duration.value(31, 's');", PRES],
  ['presence: throttle strict', 'request.time >= resource.data.at + presenceMinInterval()', 'request.time > resource.data.at + presenceMinInterval()', PRES, 'a refresh exactly 30 s to the microsecond after the stored at'],
  ['presence: ended sessions watchable', "return status == 'running' || status == 'new';", 'return true;', PRES],
  ['presence: new sessions not watchable', "return status == 'running' || status == 'new';", "return status == 'running';", PRES],
  ['presence: status not checked', '&& p.until <= request.time + presenceMaxLease()\n          && isWatchable(sid);', '&& p.until <= request.time + presenceMaxLease();', PRES],
  ['presence: any ID created', "allow create: if name == 'now' && isValidPresence(sid);", 'allow create: if isValidPresence(sid);', PRES],
  ['presence: any ID updated', "allow update: if name == 'now'\n", 'allow update: if true\n', PRES],
  ['presence: readable', "allow create: if name == 'now' && isValidPresence(sid);", "allow create: if name == 'now' && isValidPresence(sid);\n        allow read: if true;", PRES],
  ['presence: deletable', "allow create: if name == 'now' && isValidPresence(sid);", "allow create: if name == 'now' && isValidPresence(sid);\n        allow delete: if true;", PRES],
  ['presence: update without the shape', '&& request.time >= resource.data.at + presenceMinInterval()\n                      && isValidPresence(sid);', '&& request.time >= resource.data.at + presenceMinInterval();', PRES],
  // Older grants
  ['sessions: listable', 'allow get: if true;\n\n      // Per-epoch', 'allow read: if true;\n\n      // Per-epoch', ALL],
  ['epochs: writable', 'match /epochs/{n} {\n        allow get, list: if true;', 'match /epochs/{n} {\n        allow get, list, write: if true;', ALL],
];

function run(files, env) {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files],
      { cwd: HERE, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => res({ code, out }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'tfw-mutants-'));
const results = [];
const ONLY = process.env.TFW_MUTANTS || '';
let index = 0;

async function worker() {
  for (;;) {
    const i = index++;
    if (i >= MUTANTS.length) return;
    const [name, from, to, files, equivalent] = MUTANTS[i];
    if (ONLY && !name.includes(ONLY)) continue;
    const pairs = Array.isArray(from) ? from : [[from, to]];
    let mutated = RULES;
    const counts = pairs.map(([f]) => RULES.split(f).length - 1);
    if (counts.some((c) => c !== 1)) {
      results[i] = { name, status: `BAD MUTANT (text found ${counts.join('/')} times)`, bad: true };
      console.log(`${String(i + 1).padStart(2)}. ${results[i].status} ${name}`);
      continue;
    }
    for (const [f, t] of pairs) mutated = mutated.replace(f, t);
    const path = join(dir, `mutant-${i}.rules`);
    writeFileSync(path, mutated);
    const { code, out } = await run(files, { TFW_RULES_PATH: path, TFW_RULES_PROJECT: `demo-mutant-${i}` });
    const compileError = /Error compiling rules/.test(out);
    const killed = code !== 0;
    results[i] = {
      name, equivalent, compileError, killed,
      status: compileError ? 'BAD MUTANT (does not compile)' : killed ? 'killed' : equivalent ? `survived (equivalent: ${equivalent})` : 'SURVIVED',
      bad: compileError || (!killed && !equivalent),
    };
    console.log(`${String(i + 1).padStart(2)}. ${results[i].status.padEnd(10)} ${name}`);
  }
}

const baseline = await run(ALL, { TFW_RULES_PATH: resolve(HERE, '../../firestore.rules'), TFW_RULES_PROJECT: 'demo-mutant-baseline' });
if (baseline.code !== 0) {
  console.log(baseline.out.slice(-3000));
  console.error('the unmutated rules fail the tests: fix that first');
  process.exit(1);
}
await Promise.all([worker(), worker()]);
const ran = results.filter(Boolean);
results.length = 0;
results.push(...ran);
const killed = results.filter((r) => r.killed).length;
const survivors = results.filter((r) => r.bad);
console.log(`\n${results.length} mutants: ${killed} killed, ${results.length - killed} survived `
  + `(${results.filter((r) => !r.killed && r.equivalent).length} marked equivalent); `
  + `${survivors.length} unexpected: ${survivors.map((r) => r.name).join('; ') || 'none'}`);
process.exit(survivors.length ? 1 : 0);
