/**
 * Device enrolment writes (device.ts says why): `{sessions|workspaces}/{id}/devices/{dh}` =
 * {proof: sha256hex(K + ":" + dh), at: serverTimestamp()}. The rules accept the create only
 * with the current owner key K (of a running session, or of the workspace), once: a second
 * create of the same document is refused like a wrong key, and nothing there is readable, so a
 * refusal says only "not enrolled by this write". Loaded with the session and workspace pages.
 */
import { doc, serverTimestamp, setDoc, type Firestore } from "firebase/firestore";
import { COLLECTIONS } from "./contract";
import { deviceId, enrolmentProof } from "./device";
import { acceptOwnerKey, isEnrolled, linkOwnerKey, markEnrolled, ownerKey } from "./owner";

const code = (err: unknown) => (err as { code?: string } | null)?.code ?? "";

/**
 * Tries `keys` in order for session or workspace `id` (its document path `parent`); the first
 * the rules accept enrols this device. Returns that key, or null when every one was refused;
 * other errors (offline, ...) are thrown.
 */
export async function enrolWith(db: Firestore, id: string, parent: string, keys: string[]): Promise<string | null> {
  const dh = await deviceId();
  for (const key of keys) {
    const proof = await enrolmentProof(key, dh);
    try {
      await setDoc(doc(db, parent, COLLECTIONS.devices, dh), { proof, at: serverTimestamp() });
      markEnrolled(id, proof);
      return key;
    } catch (err) {
      if (code(err) !== "permission-denied") throw err;
    }
  }
  return null;
}

/** The keys of `id` this device holds: a link's key not yet accepted first, then the remembered one. */
export function heldKeys(id: string): string[] {
  const link = linkOwnerKey(id);
  const kept = ownerKey(id);
  return [...new Set([link, kept].filter((k): k is string => !!k))];
}

/**
 * The workspace page with the workspace owner key: enrol once (no running condition). A link's
 * key that the rules accept becomes the remembered one (owner.ts). Never throws.
 */
export async function enrolInWorkspace(db: Firestore, wid: string): Promise<boolean> {
  if (isEnrolled(wid)) return true;
  const keys = heldKeys(wid);
  if (!keys.length) return false;
  try {
    const used = await enrolWith(db, wid, `${COLLECTIONS.workspaces}/${wid}`, keys);
    if (used != null && used === linkOwnerKey(wid)) acceptOwnerKey(wid, used);
    return used != null;
  } catch {
    return false; // offline or unreachable: tried again on the next visit
  }
}
