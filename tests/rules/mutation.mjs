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
const ALL = ['matrix.test.js', 'stop.test.js', 'subscribers.test.js', 'queries.test.js', 'presence.test.js',
  'workspaces.test.js', 'devices.test.js'];
const STOP = ['stop.test.js', 'matrix.test.js'];
const SUBS = ['subscribers.test.js', 'matrix.test.js'];
const PRES = ['presence.test.js', 'matrix.test.js'];
const WSP = ['workspaces.test.js'];
const DEV = ['devices.test.js'];
// The owner secrets (Stop, owner subscriptions): the session key, the workspace key, devices.
const OWN = ['stop.test.js', 'devices.test.js', 'workspaces.test.js'];
const SUBS_ALL = ['subscribers.test.js', 'workspaces.test.js', 'devices.test.js'];

// [name, text in firestore.rules (must occur exactly once), replacement, files, equivalent?];
// the text may also be a list of [text, replacement] pairs, all applied.
const MUTANTS = [
  // Stop
  ['stop: no hasOnly (extra fields)', "d.keys().hasOnly(['key', 'run', 'at'])", 'true', STOP],
  ['stop: no hasAll', "d.keys().hasAll(['key', 'run', 'at'])", 'true', STOP, 'a missing field fails the type check that reads it'],
  ['stop: key not type-checked', 'd.key is string', 'true', STOP, 'a non-string never equals the stored key'],
  ['stop: run not type-checked', 'd.run is int', 'true', STOP, "'1' or 1.5 never equals the session's int run / the ID"],
  ['stop: at not type-checked', '&& d.at is timestamp\n          && d.at == request.time\n          && command', '&& d.at == request.time\n          && command', STOP, 'at == request.time implies a timestamp'],
  ['stop: at not request.time', 'd.at == request.time\n          && command', 'true\n          && command', STOP],
  ['stop: ID not tied to run', "command == 'stop-' + string(d.run)", 'true', STOP],
  ['stop: run not the current run', "get(sessionPath(sid)).data.get('run', null) == d.run", 'true', STOP],
  ['stop: status not checked', '&& isRunning(sid)\n          && isSessionOwnerSecret(sid, d.key)', '&& isSessionOwnerSecret(sid, d.key)', STOP],
  ['stop: key not checked', '\n          && isSessionOwnerSecret(sid, d.key);', ';', STOP],
  ['stop: update allowed', 'allow create: if isValidStop(sid, command);', 'allow create, update: if isValidStop(sid, command);', STOP],
  ['stop: delete allowed', 'allow create: if isValidStop(sid, command);', 'allow create: if isValidStop(sid, command);\n        allow delete: if true;', STOP],
  ['stop: read allowed', 'allow create: if isValidStop(sid, command);', 'allow create: if isValidStop(sid, command);\n        allow read: if true;', STOP],
  ['running: any status', "data.get('status', null) == 'running'", "data.get('status', null) != 'crashed'", ALL],
  // Owner secrets (Stop): the workspace owner key and enrolled devices (issue 19)
  ['secret: session key not accepted', "return secret == ownerKeyOf('sessions', sid)", 'return false', OWN],
  ['secret: workspace key not accepted', "|| (ws is string && secret == ownerKeyOf('workspaces', ws))", '|| false', OWN],
  ['secret: any key for a session in a workspace', "|| (ws is string && secret == ownerKeyOf('workspaces', ws))", '|| (ws is string)', OWN],
  ['secret: the workspace read from the wrong field', "data.get('workspace', null)", "data.get('key', null)", OWN],
  ['secret: session devices not accepted', "|| exists(childPath('sessions', sid, 'devices', dh))", '|| false', OWN],
  ['secret: any device of any session', "|| exists(childPath('sessions', sid, 'devices', dh))", '|| dh.size() == 64', OWN],
  ['secret: workspace devices not accepted', "|| (ws is string && exists(childPath('workspaces', ws, 'devices', dh)));", ';', OWN],
  ['secret: any device for a session in a workspace', "|| (ws is string && exists(childPath('workspaces', ws, 'devices', dh)));", '|| (ws is string);', OWN],
  ['secret: device ID not hashed', 'let dh = sha256hex(secret);', 'let dh = secret;', OWN],
  // Device enrolment
  ['enrol: no hasOnly', "d.keys().hasOnly(['proof', 'at'])", 'true', DEV],
  ['enrol: no hasAll', "d.keys().hasAll(['proof', 'at'])", 'true', DEV, 'a missing field fails the check that reads it'],
  ['enrol: at not type-checked', '&& d.at is timestamp\n          && d.at == request.time\n          && d.proof', '&& d.at == request.time\n          && d.proof', DEV, 'at == request.time implies a timestamp'],
  ['enrol: at not request.time', '&& d.at == request.time\n          && d.proof', '&& d.proof', DEV],
  ['enrol: proof not checked', "\n          && d.proof == sha256hex(ownerKeyOf(coll, id) + ':' + dh);", ';', DEV],
  ['enrol: proof not bound to the device', "d.proof == sha256hex(ownerKeyOf(coll, id) + ':' + dh)", "d.proof.size() == 64 && ownerKeyOf(coll, id) != dh", DEV],
  ['enrol: ID not checked', "return isDeviceId(dh)\n          && d.keys().hasAll(['proof', 'at'])", "return d.keys().hasAll(['proof', 'at'])", DEV],
  ['device ID: upper case', "dh.matches('^[0-9a-f]{64}$')", "dh.matches('^[0-9a-fA-F]{64}$')", DEV],
  ['device ID: 63 digits', "dh.matches('^[0-9a-f]{64}$')", "dh.matches('^[0-9a-f]{63,64}$')", DEV],
  ['enrol: session not running', "allow create: if isEnrolment('sessions', sid, dh) && isRunning(sid);", "allow create: if isEnrolment('sessions', sid, dh);", DEV],
  ['enrol: session update allowed', "allow create: if isEnrolment('sessions', sid, dh) && isRunning(sid);", "allow create, update: if isEnrolment('sessions', sid, dh) && isRunning(sid);", DEV],
  ['enrol: session readable', "allow create: if isEnrolment('sessions', sid, dh) && isRunning(sid);", "allow create: if isEnrolment('sessions', sid, dh) && isRunning(sid);\n        allow read: if true;", DEV],
  ['enrol: workspace update allowed', "allow create: if isEnrolment('workspaces', wid, dh);", "allow create, update: if isEnrolment('workspaces', wid, dh);", DEV],
  ['enrol: workspace without the key', "allow create: if isEnrolment('workspaces', wid, dh);", 'allow create: if isDeviceId(dh);', DEV],
  ['enrol: workspace readable', "allow create: if isEnrolment('workspaces', wid, dh);", "allow create: if isEnrolment('workspaces', wid, dh);\n        allow get: if true;", [...DEV, ...WSP]],
  // Subscriptions
  ['sub: no hasOnly', "d.keys().hasOnly(['token', 'created', 'kind', 'lang', 'device'])", 'true', SUBS_ALL],
  ['sub: token min 31', 'd.token.size() >= 32', 'd.token.size() >= 31', SUBS],
  ['sub: token max 1025', 'd.token.size() <= 1024', 'd.token.size() <= 1025', SUBS],
  ['sub: token charset not checked', "d.token.matches('^[A-Za-z0-9_:-]+$')", 'true', SUBS],
  ['sub: created not request.time', 'd.created == request.time', 'true', SUBS],
  ['sub: kind not fcm', "d.kind == 'fcm'", 'true', SUBS],
  ['sub: lang 17', 'd.lang.size() <= 16', 'd.lang.size() <= 17', SUBS],
  ['sub: running not checked', 'allow create: if isValidSubscription()\n                      && isRunning(sid)\n', 'allow create: if isValidSubscription()\n', SUBS],
  ['viewer: device field allowed', "return !('device' in request.resource.data)\n          && subId", 'return subId', WSP],
  ['viewer: ID not sha256(token)', "\n          && subId == sha256hex(request.resource.data.token)\n", '\n', SUBS],
  ['viewer: not counted', "\n          && isCountedAs(coll, id, 'subscribers', subId);", ';', SUBS],
  ['owner: not counted', "\n          && isCountedAs('sessions', sid, 'owners', subId);", ';', SUBS],
  ['owner: counted on the viewers\' counter', "isCountedAs('sessions', sid, 'owners', subId)", "isCountedAs('sessions', sid, 'subscribers', subId)", SUBS],
  ['counted: last not this ID', 'return after.last == subId', 'return true', SUBS],
  ['counted: step not +1', 'after.n == get(counter).data.n + 1', 'after.n > get(counter).data.n', SUBS, 'the counter rule already requires n == stored n + 1 for the write that names this ID (kept as a second check)'],
  ['counted: first step not 1', '(!exists(counter) && after.n == 1)', '(!exists(counter))', SUBS, 'the counter rule already requires n == 1 on create (kept as a second check)'],
  ['owner: key not in the ID', "return subId == ownerSubIdFor(ownerKeyOf(coll, id));", "return subId == 'o-' + sha256hex(request.resource.data.token);", SUBS],
  ['owner: secret not in the ID', "return 'o-' + sha256hex(secret + ':' + request.resource.data.token);", "return 'o-' + sha256hex(request.resource.data.token);", SUBS_ALL],
  ['owner: the session key not accepted', "&& (isKeyProof('sessions', sid, subId)", '&& (false', SUBS],
  ['owner: the workspace key not accepted for its runs', "|| (ws is string && isKeyProof('workspaces', ws, subId))", '|| false', DEV],
  ['owner: any workspace key for a run in a workspace', "(ws is string && isKeyProof('workspaces', ws, subId))", '(ws is string)', DEV],
  ['owner: session devices not accepted', "&& (isDeviceProof('sessions', sid, d.device, subId)", '&& (false', DEV],
  ['owner: workspace devices not accepted for its runs', "|| (ws is string && isDeviceProof('workspaces', ws, d.device, subId))", '|| false', DEV],
  ['owner: any enrolled device, any ID', '&& subId == ownerSubIdFor(get(enrolment).data.proof);', ';', DEV],
  ['owner: enrolment existence not checked', 'return exists(enrolment)\n          && subId', 'return subId', DEV, 'get() of a missing enrolment is an error, which denies'],
  ['owner: device field not checked', "'device' in d\n                  && isDeviceId(d.device)\n", "'device' in d\n", DEV, 'no enrolment can have an ID that is not 64 lower-case hex digits, so the lookup fails'],
  ['owner: device field ignored', "(('device' in d\n                  && isDeviceId", "((false\n                  && isDeviceId", DEV],
  ['owner: a device-named subscription proven with a key', "|| (!('device' in d)\n                  && (isKeyProof", '|| ((isKeyProof', DEV],
  ['sub: update allowed', "allow create: if isValidSubscription()\n                      && isRunning(sid)", "allow update: if true;\n        allow create: if isValidSubscription()\n                      && isRunning(sid)", SUBS],
  ['counter: step not +1', 'd.n == before + 1', 'd.n > before', SUBS, 'the subscription rule already requires n after == n before + 1 (kept as a second check)'],
  // The two checks of the step, removed together: the cap could be jumped to in one batch.
  ['viewer and counter: step not +1 on either side', [['after.n == get(counter).data.n + 1', 'after.n > get(counter).data.n'], ['d.n == before + 1', 'd.n > before']], null, SUBS],
  ['counter: cap 21', 'function maxViewers() {\n      return 20;', 'function maxViewers() {\n      return 21;', SUBS],
  ['owners: cap 21', 'function maxOwners() {\n      return 20;', 'function maxOwners() {\n      return 21;', SUBS],
  ['owners: the viewers\' cap', ": (name == 'owners' ? maxOwners() : maxViewers());", ': maxViewers();', SUBS, 'both caps are 20'],
  ['counter: last not checked', "d.last.matches(name == 'owners' ? '^o-[0-9a-f]{64}$' : '^[0-9a-f]{64}$')", 'true', SUBS, 'existsAfter(subscribers/last) and the subscription rule tie last to a created ID'],
  ['counter: last may exist already', "&& !exists(childPath(coll, id, 'subscribers', d.last))\n", '\n', SUBS],
  ['counter: subscription not required', "\n          && existsAfter(childPath(coll, id, 'subscribers', d.last));", ';', SUBS],
  ['counter: no hasOnly', "d.keys().hasOnly(['n', 'last'])", 'true', SUBS],
  ['counter: listable', "allow get: if name in ['subscribers', 'owners'];\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('sessions'", "allow read: if name in ['subscribers', 'owners'];\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('sessions'", SUBS, "a list passes only if it can return nothing but the two counters, which get allows anyway (a plain list is still denied: tested)"],
  ['counter: any name readable', "allow get: if name in ['subscribers', 'owners'];\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('sessions'", "allow get: if true;\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('sessions'", SUBS],
  ['counter: owners not writable', "allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('sessions', sid, name, 0);", "allow create: if name == 'subscribers'\n                      && isCounterStep('sessions', sid, name, 0);", SUBS],
  // Workspaces: the run index
  ['runs: unbounded queries', 'allow list: if request.query.limit <= workspaceMaxQueryLimit();', 'allow list: if true;', WSP],
  ['runs: limit 101', 'function workspaceMaxQueryLimit() {\n      return 100;', 'function workspaceMaxQueryLimit() {\n      return 101;', WSP],
  ['runs: limit 99', 'function workspaceMaxQueryLimit() {\n      return 100;', 'function workspaceMaxQueryLimit() {\n      return 99;', WSP],
  ['runs: limit strict', 'request.query.limit <= workspaceMaxQueryLimit()', 'request.query.limit < workspaceMaxQueryLimit()', WSP],
  ['runs: not listable', 'allow list: if request.query.limit <= workspaceMaxQueryLimit();', 'allow list: if false;', WSP],
  ['runs: not readable', 'match /runs/{sid} {\n        allow get: if true;', 'match /runs/{sid} {\n        allow get: if false;', WSP],
  ['runs: writable', 'match /runs/{sid} {\n        allow get: if true;', 'match /runs/{sid} {\n        allow get, write: if true;', WSP],
  ['runs: a collection-group rule', 'match /workspaces/{wid} {\n', 'match /{path=**}/runs/{sid} {\n      allow list: if request.query.limit <= 100;\n    }\n    match /workspaces/{wid} {\n', WSP],
  ['workspaces: listable', 'match /workspaces/{wid} {\n', 'match /workspaces/{wid} {\n      allow list: if true;\n', WSP],
  ['workspaces: the document readable', 'match /workspaces/{wid} {\n', 'match /workspaces/{wid} {\n      allow get: if true;\n', WSP],
  ['workspaces: private readable', 'match /workspaces/{wid} {\n', 'match /workspaces/{wid} {\n      match /private/{doc} {\n        allow get: if true;\n      }\n', WSP],
  // Workspaces: subscriptions and counters
  ['ws owner: not counted', "\n          && isCountedAs('workspaces', wid, 'owners', subId);", ';', WSP],
  ['ws owner: counted on the viewers\' counter', "isCountedAs('workspaces', wid, 'owners', subId)", "isCountedAs('workspaces', wid, 'subscribers', subId)", WSP],
  ['ws owner: any key', "&& isKeyProof('workspaces', wid, subId))", '&& true)', WSP],
  ['ws owner: devices not accepted', "&& isDeviceProof('workspaces', wid, d.device, subId))", '&& false)', DEV],
  ['ws viewers: cap 21', 'function workspaceMaxViewers() {\n      return 20;', 'function workspaceMaxViewers() {\n      return 21;', WSP],
  ['ws owners: cap 21', 'function workspaceMaxOwners() {\n      return 20;', 'function workspaceMaxOwners() {\n      return 21;', WSP],
  ['ws counters: the session caps', "? (name == 'owners' ? workspaceMaxOwners() : workspaceMaxViewers())", "? (name == 'owners' ? maxOwners() : maxViewers())", WSP, 'the numbers are equal today (20); the contract test ties the workspace functions to workspaces.max_*'],
  ['ws counter: update without a subscription', "allow update: if name in ['subscribers', 'owners']\n                      && isCounterStep('workspaces', wid, name, resource.data.n);", "allow update: if name in ['subscribers', 'owners'];", WSP],
  ['ws counter: create without a subscription', "allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('workspaces', wid, name, 0);", "allow create: if name in ['subscribers', 'owners'];", WSP],
  ['ws counter: any name readable', "allow get: if name in ['subscribers', 'owners'];\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('workspaces'", "allow get: if true;\n        allow create: if name in ['subscribers', 'owners']\n                      && isCounterStep('workspaces'", WSP],
  ['ws subscriptions: readable', "|| isWorkspaceOwnerSubscription(wid, id));", "|| isWorkspaceOwnerSubscription(wid, id));\n        allow read: if true;", WSP],
  ['ws subscriptions: viewers not counted', "(isViewerSubscription('workspaces', wid, id)", "(request.resource.data.token is string", WSP],
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

const TEST_TIMEOUT_MS = Number(process.env.TFW_MUTANT_TIMEOUT_MS || 600_000);

function run(files, env) {
  return new Promise((res) => {
    // A request the emulator never answers (its rules engine threw) would hang a test: the
    // timeout turns that into a HUNG result instead of a silent wait.
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=dot',
      `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
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
    for (const [f, t] of pairs) mutated = mutated.replace(f, () => t); // a function: `$` in t is literal
    const path = join(dir, `mutant-${i}.rules`);
    writeFileSync(path, mutated);
    const { code, out } = await run(files, { TFW_RULES_PATH: path, TFW_RULES_PROJECT: `demo-mutant-${i}` });
    const compileError = /Error compiling rules/.test(out);
    const hung = /timed out after/.test(out);
    const killed = code !== 0 && !hung;
    results[i] = {
      name, equivalent, compileError, killed,
      status: compileError ? 'BAD MUTANT (does not compile)' : hung ? 'HUNG (a request got no answer)'
        : killed ? 'killed' : equivalent ? `survived (equivalent: ${equivalent})` : 'SURVIVED',
      bad: compileError || hung || (!killed && !equivalent),
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
