/**
 * Which secrets make this device's Notify me an owner subscription, in the order it tries
 * them (views/notify.ts). The rules (firestore.rules, isSessionOwnerSubscription and
 * isWorkspaceOwnerSubscription) accept `subscribers/o-{sha256(S + ":" + token)}` where S is
 *  - the session's current owner key, or the owner key of its workspace (for a workspace: its
 *    owner key): the document is {token, created, kind, lang?};
 *  - the proof P = sha256(K + ":" + dh) of this device's enrolment (devices/{dh}) in the
 *    session or its workspace (for a workspace: in the workspace): the document also says
 *    {device: dh}. P is what the device kept when it enrolled (owner.ts enrolledProof): a key
 *    rotated since (each run has its own) does not matter, the enrolment stays.
 *
 * Nothing owner-related is readable, so a refusal cannot say whether the secret was wrong or
 * the document exists already (create-only). A secret is "known" good when the device has
 * seen the rules accept it: a session key proven in the run in progress (owner.ts keyRun), a
 * workspace key whose enrolment proof this device holds, an enrolment's proof. A refusal of a
 * known secret means "subscribed already"; a refusal of one of unknown worth (a link's key, a
 * key of an earlier run) lets the next be tried.
 *
 * No Firebase here (the unit test runs it against fake storage).
 */
import { deviceId, enrolmentProof } from "./device";
import { enrolledProof, keyRun, linkOwnerKey, ownerKey } from "./owner";
import { workspaceOfRun } from "./workspace-memory";

export interface OwnerProof {
  /** What the subscription ID is made from: an owner key, or an enrolment's proof P. */
  secret: string;
  /** dh when `secret` is this device's enrolment proof (the document then says {device: dh}). */
  device: string | null;
  /** The rules accepted it before (see above): its refusal means "subscribed already". */
  known: boolean;
}

export interface ProofFacts {
  /** Owner keys the rules accepted on this device, best first. */
  knownKeys: (string | null)[];
  /** This device's enrolment proofs (session's, then its workspace's); "" or null: none kept. */
  enrolments: (string | null)[];
  /** Keys of unknown worth, best first. */
  otherKeys: (string | null)[];
}

/** The proofs to try, best first, each once: known keys, then enrolments (with `dh`), then the rest. */
export function orderProofs(f: ProofFacts, dh: string | null): OwnerProof[] {
  const out: OwnerProof[] = [];
  const add = (secret: string | null, device: string | null, known: boolean) => {
    if (secret && !out.some((p) => p.secret === secret)) out.push({ secret, device, known });
  };
  for (const k of f.knownKeys) add(k, null, true);
  if (dh) for (const p of f.enrolments) add(p, dh, true);
  for (const k of f.otherKeys) add(k, null, false);
  return out;
}

const kept = (id: string | null): string | null => (id ? enrolledProof(id) || null : null);

/** dh, drawn only where this device kept an enrolment proof (D exists there already). */
async function dhIf(proofs: (string | null)[]): Promise<string | null> {
  return proofs.some(Boolean) ? deviceId() : null;
}

/** Whether `key` is the key this device's enrolment `proof` was made with. */
async function provenBy(key: string | null, proof: string | null, dh: string | null): Promise<boolean> {
  return !!key && !!proof && !!dh && (await enrolmentProof(key, dh)) === proof;
}

/** A session page in run `run` (null: unknown): the session's keys, its workspace's, the enrolments. */
export async function sessionOwnerProofs(sid: string, run: number | null): Promise<OwnerProof[]> {
  const wid = workspaceOfRun(sid); // known only if this device opened the run from its workspace
  const key = ownerKey(sid);
  const wsKey = wid ? ownerKey(wid) : null;
  const enrolments = [kept(sid), kept(wid)];
  const dh = await dhIf(enrolments);
  const wsKnown = await provenBy(wsKey, kept(wid), dh);
  return orderProofs(
    {
      knownKeys: [run != null && keyRun(sid) === run ? key : null, wsKnown ? wsKey : null],
      enrolments,
      otherKeys: [linkOwnerKey(sid), key, wsKey],
    },
    dh,
  );
}

/** The workspace page: its owner key (remembered, or a link's not yet accepted), the enrolment. */
export async function workspaceOwnerProofs(wid: string): Promise<OwnerProof[]> {
  const key = ownerKey(wid);
  const link = linkOwnerKey(wid);
  const proof = kept(wid);
  const dh = await dhIf([proof]);
  const knownKeys = [];
  for (const k of [key, link]) if (await provenBy(k, proof, dh)) knownKeys.push(k);
  return orderProofs({ knownKeys, enrolments: [proof], otherKeys: [link, key] }, dh);
}
