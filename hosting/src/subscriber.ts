/**
 * Push subscription documents (docs/schema.md, "subscribers"); the rules in firestore.rules
 * check every part of this.
 *
 * - A viewer's subscription: `subscribers/{sha256hex(token)}`, created in one batch with the
 *   step of `counters/subscribers` from `{n}` to `{n: n + 1, last: id}`; at most `MAX_VIEWERS`.
 * - The owner's: `subscribers/o-{sha256hex(ownerKey + ":" + token)}`: only the owner key names
 *   it (the key itself is not stored), it is counted apart on `counters/owners` (at most
 *   `MAX_OWNERS`), and every one within that cap is notified.
 *
 * IDs are deterministic, so subscribing the same device twice names the same document; the
 * rules allow only `create` there, and the second write is refused, which the dashboard reads
 * as "already subscribed". Needs Web Crypto (`crypto.subtle`): browsers have it in secure
 * contexts, where notifications work at all; Node has it too (the unit test).
 */

/** The most viewer subscriptions a session takes (maxViewers() in firestore.rules). */
export const MAX_VIEWERS = 20;
/** The most owner subscriptions a session takes (maxOwners() in firestore.rules). */
export const MAX_OWNERS = 20;

/** What the rules accept as a token: 32..1024 characters of [A-Za-z0-9_:-] (FCM's alphabet;
 * FCM's own are about 160). */
export function isWellFormedToken(token: unknown): token is string {
  return typeof token === "string" && token.length >= 32 && token.length <= 1024 && /^[A-Za-z0-9_:-]+$/.test(token);
}

async function sha256hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A viewer subscription's ID: the hex SHA-256 of its FCM token. */
export async function subscriberId(token: string): Promise<string> {
  if (!token) throw new Error("empty token");
  return sha256hex(token);
}

/** The owner subscription's ID: "o-" + hex SHA-256 of (owner key + ":" + token). */
export async function ownerSubscriberId(key: string, token: string): Promise<string> {
  if (!key) throw new Error("empty owner key");
  if (!token) throw new Error("empty token");
  return `o-${await sha256hex(`${key}:${token}`)}`;
}

/** `{token, created, kind, lang?}` minus `created` (a server timestamp the caller adds). */
export function subscriberFields(token: string, language: string | undefined): { token: string; kind: "fcm"; lang?: string } {
  const lang = (language ?? "").slice(0, 16);
  return lang ? { token, kind: "fcm", lang } : { token, kind: "fcm" };
}

/** The counter's `n` from its document data (0 when there is none yet or it is malformed). */
export function counterValue(data: unknown): number {
  const n = (data as { n?: unknown } | null | undefined)?.n;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : 0;
}
