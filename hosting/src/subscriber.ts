/**
 * The ID of a push subscription document: the hex SHA-256 of its FCM token. Deterministic, so
 * subscribing the same device twice names the same document; the rules allow only `create`
 * there, and the second write is refused, which the dashboard reads as "already subscribed".
 * Needs Web Crypto (`crypto.subtle`): browsers have it in secure contexts, where notifications
 * work at all; Node has it too (the unit test).
 */
export async function subscriberId(token: string): Promise<string> {
  if (!token) throw new Error("empty token");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `{token, created, kind, lang?}` minus `created` (a server timestamp the caller adds). */
export function subscriberFields(token: string, language: string | undefined): { token: string; kind: "fcm"; lang?: string } {
  const lang = (language ?? "").slice(0, 16);
  return lang ? { token, kind: "fcm", lang } : { token, kind: "fcm" };
}
