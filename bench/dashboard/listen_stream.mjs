// What the Firestore Listen channel carries, from Chromium's side (CDP): the targets a page
// adds and removes (request bodies) and the server's messages (response frames), with what was
// delivered per kind of document and what was re-sent unchanged. Shared by watch_bytes.mjs and
// return_reads.mjs.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Listen targets from the Listen channel's request bodies (form-encoded JSON messages). */
export function targetsOf(postData) {
  const out = [];
  if (!postData) return out;
  let params;
  try {
    params = new URLSearchParams(postData);
  } catch {
    return out;
  }
  for (const [k, v] of params) {
    if (!/^req\d+___data__$/.test(k)) continue;
    let m;
    try {
      m = JSON.parse(v);
    } catch {
      continue;
    }
    if (m.addTarget) out.push({ add: m.addTarget.targetId, what: describeTarget(m.addTarget) });
    if (m.removeTarget != null) out.push({ remove: m.removeTarget });
  }
  return out;
}

function describeTarget(t) {
  const short = (p) => String(p).replace(/^projects\/[^/]+\/databases\/[^/]+\/documents\/?/, "");
  if (t.documents) return `documents ${t.documents.documents.map(short).join(", ")}`;
  if (t.query) {
    const q = t.query.structuredQuery ?? {};
    const from = (q.from ?? []).map((f) => f.collectionId).join(",");
    const at = (c) => c?.values?.map((v) => short(v.referenceValue ?? JSON.stringify(v))).join(",");
    const range = q.startAt || q.endAt ? ` [${at(q.startAt) ?? ""} .. ${at(q.endAt) ?? ""}]` : "";
    const where = q.where ? ` where ${JSON.stringify(q.where).slice(0, 120)}` : "";
    return `query ${short(t.query.parent)}/${from}${range}${where}`;
  }
  return JSON.stringify(t).slice(0, 160);
}

// Document kinds, by the contract's collection names and ID templates (no second spelling).
const CONTRACT = JSON.parse(readFileSync(join(repo, "tfwatcher", "base", "contract.json"), "utf8"));
const templateRe = (t) => new RegExp(`^${t.replace(/\{kind\}/g, "[a-z]+").replace(/\{\w+(?::0\d+)?\}/g, "\\d+")}$`);
const HEAD_RE = templateRe(CONTRACT.documents.summary_head);
const C = CONTRACT.collections;

/** What a delivered document is: chunk, summary head or part, session, table, epoch… */
export function docKind(name) {
  const path = String(name).replace(/^projects\/[^/]+\/databases\/[^/]+\/documents\//, "").split("/");
  if (path[0] !== C.sessions) return path[0] ?? "?";
  if (path.length === 2) return "session";
  const [coll, id] = [path[2], path[3] ?? ""];
  if (coll === C.batches) return "chunks";
  if (coll === C.summaries) return HEAD_RE.test(id) ? "summary head" : "summary parts";
  if (coll === C.tables) return "table";
  return coll;
}

/**
 * The Listen channel's responses: WebChannel frames ("<length>\n<json>") of server messages.
 * Counts the characters of document changes already delivered (same name and updateTime),
 * and per kind of document (docKind) the deliveries and their characters.
 */
export class ListenStream {
  constructor() {
    this.buf = new Map(); // requestId → unparsed text
    this.seen = new Map(); // document name → updateTime
    this.resent = 0;
    this.fresh = 0;
    this.kinds = {}; // kind → {n, chars, resent_n, resent_chars, max}
    this.freshText = []; // the changed messages, for a compressed-size estimate (while `keep`)
    this.keep = false;
  }
  add(requestId, text) {
    let b = (this.buf.get(requestId) ?? "") + text;
    for (;;) {
      const nl = b.indexOf("\n");
      if (nl < 0) break;
      const n = Number(b.slice(0, nl));
      if (!Number.isFinite(n) || b.length < nl + 1 + n) break;
      this.frame(b.slice(nl + 1, nl + 1 + n));
      b = b.slice(nl + 1 + n);
    }
    this.buf.set(requestId, b);
  }
  frame(json) {
    let arr;
    try {
      arr = JSON.parse(json);
    } catch {
      this.fresh += json.length;
      return;
    }
    for (const entry of Array.isArray(arr) ? arr : []) {
      const msgs = Array.isArray(entry) ? entry[1] : entry;
      for (const m of Array.isArray(msgs) ? msgs : [msgs]) {
        const text = JSON.stringify(m);
        const size = text.length;
        const d = m?.documentChange?.document;
        const again = !!d?.name && this.seen.get(d.name) === d.updateTime;
        if (again) this.resent += size;
        else {
          this.fresh += size;
          if (this.keep) this.freshText.push(text);
        }
        if (d?.name) {
          this.seen.set(d.name, d.updateTime);
          const k = (this.kinds[docKind(d.name)] ??= { n: 0, chars: 0, resent_n: 0, resent_chars: 0, max: 0 });
          k.n++;
          k.chars += size;
          k.max = Math.max(k.max, size);
          if (again) {
            k.resent_n++;
            k.resent_chars += size;
          }
        }
      }
    }
  }
}

/**
 * Counts what a page receives from the emulator's port, through its CDP session: `bytes()`
 * (encoded, headers included, as they arrive), `stream` (the Listen responses parsed),
 * `targets` (targetId → description, while active) and `targetLog` (adds and removes).
 */
export async function watchNetwork(cdp, emulatorPort) {
  await cdp.send("Network.enable");
  const reqs = new Map();
  const targets = new Map();
  const targetLog = [];
  const stream = new ListenStream();
  cdp.on("Network.requestWillBeSent", (e) => {
    const u = new URL(e.request.url);
    if (u.port !== String(emulatorPort)) return;
    reqs.set(e.requestId, { got: 0, done: 0, url: u.pathname });
    if (u.pathname.endsWith("/Listen/channel")) {
      for (const t of targetsOf(e.request.postData)) {
        targetLog.push(t);
        if (t.add != null) targets.set(t.add, t.what);
        if (t.remove != null) targets.delete(t.remove);
      }
    }
  });
  cdp.on("Network.dataReceived", (e) => {
    const r = reqs.get(e.requestId);
    if (r) r.got += e.encodedDataLength || 0;
    if (e.data) stream.add(e.requestId, Buffer.from(e.data, "base64").toString("utf8"));
  });
  cdp.on("Network.loadingFinished", (e) => { const r = reqs.get(e.requestId); if (r) r.done = e.encodedDataLength || 0; });
  // The Listen responses' content, to tell re-sent document versions from changes.
  cdp.on("Network.responseReceived", (e) => {
    const r = reqs.get(e.requestId);
    if (!r?.url.endsWith("/Listen/channel")) return;
    cdp.send("Network.streamResourceContent", { requestId: e.requestId })
      .then((x) => { if (x.bufferedData) stream.add(e.requestId, Buffer.from(x.bufferedData, "base64").toString("utf8")); })
      .catch(() => {}); // finished already: its content is not seen (counted as bytes only)
  });
  return {
    stream, targets, targetLog,
    bytes: () => [...reqs.values()].reduce((s, r) => s + Math.max(r.got, r.done), 0),
  };
}
