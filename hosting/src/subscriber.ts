/**
 * Push subscription documents (docs/schema.md, "subscribers"), under a session
 * (`sessions/{sid}/...`: that session) or a workspace (`workspaces/{wid}/...`: every run of it),
 * with the same shapes and caps; the rules in firestore.rules check every part of this.
 *
 * - A viewer's subscription: `subscribers/{sha256hex(token)}`, created in one batch with the
 *   step of `counters/subscribers` from `{n}` to `{n: n + 1, last: id}`; at most `MAX_VIEWERS`.
 * - The owner's: `subscribers/o-{sha256hex(ownerKey + ":" + token)}`: only the owner key names
 *   it (the key itself is not stored), it is counted apart on `counters/owners` (at most
 *   `MAX_OWNERS`), and every one within that cap is notified.
 * - An owner's, proven by this device's enrolment instead of a key (device.ts): the ID is
 *   `o-{sha256hex(P + ":" + token)}` with P the enrolment's proof, and the document says
 *   `device: dh`; counted on `counters/owners` too.
 *
 * IDs are deterministic, so subscribing the same device twice names the same document; the
 * rules allow only `create` there, and the second write is refused, which the dashboard reads
 * as "already subscribed". SHA-256 from device.ts (crypto.subtle where there is one).
 */
import { sha256hex } from "./device";

/** The most viewer subscriptions a session takes (maxViewers() in firestore.rules). */
export const MAX_VIEWERS = 20;
/** The most owner subscriptions a session takes (maxOwners() in firestore.rules). */
export const MAX_OWNERS = 20;

/** What the rules accept as a token: 32..1024 characters of [A-Za-z0-9_:-] (FCM's alphabet;
 * FCM's own are about 160). */
export function isWellFormedToken(token: unknown): token is string {
  return typeof token === "string" && token.length >= 32 && token.length <= 1024 && /^[A-Za-z0-9_:-]+$/.test(token);
}

/** A viewer subscription's ID: the hex SHA-256 of its FCM token. */
export async function subscriberId(token: string): Promise<string> {
  if (!token) throw new Error("empty token");
  return sha256hex(token);
}

/** The owner subscription's ID: "o-" + hex SHA-256 of (owner key + ":" + token). For a
 * subscription proven by this device's enrolment, `key` is the enrolment's proof P. */
export async function ownerSubscriberId(key: string, token: string): Promise<string> {
  if (!key) throw new Error("empty owner key");
  if (!token) throw new Error("empty token");
  return `o-${await sha256hex(`${key}:${token}`)}`;
}

export interface SubscriberFields {
  token: string;
  kind: "fcm";
  lang?: string;
  device?: string;
}

/** `{token, created, kind, lang?, device?}` minus `created` (a server timestamp the caller
 * adds); `device` (dh) only for an owner subscription proven by this device's enrolment. */
export function subscriberFields(token: string, language: string | undefined, device?: string | null): SubscriberFields {
  const lang = (language ?? "").slice(0, 16);
  const out: SubscriberFields = lang ? { token, kind: "fcm", lang } : { token, kind: "fcm" };
  if (device) out.device = device;
  return out;
}

/** The counter's `n` from its document data (0 when there is none yet or it is malformed). */
export function counterValue(data: unknown): number {
  const n = (data as { n?: unknown } | null | undefined)?.n;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : 0;
}
