/** Session IDs: 7 characters from an alphabet without 0 1 i l o (docs/schema.md). */

export const SID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
export const SID_LENGTH = 7;

export type SidCheck = { ok: true; sid: string } | { ok: false; sid: string; message: string };

/** Lower-cases and trims what was typed or found in a URL, then checks length and characters. */
export function checkSid(raw: string): SidCheck {
  const sid = raw.trim().toLowerCase();
  if (sid.length === 0) return { ok: false, sid, message: "Enter the 7-character session ID." };
  const bad = [...new Set([...sid].filter((c) => !SID_ALPHABET.includes(c)))];
  if (bad.length > 0) {
    const shown = bad.map((c) => (c === " " ? "space" : `“${c}”`)).join(", ");
    const hint = bad.some((c) => "01ilo".includes(c))
      ? " IDs never use 0, 1, i, l or o — check for a look-alike letter or digit."
      : "";
    return { ok: false, sid, message: `A session ID has only letters and digits 2–9; this one contains ${shown}.${hint}` };
  }
  if (sid.length !== SID_LENGTH) {
    return { ok: false, sid, message: `A session ID has ${SID_LENGTH} characters; this one has ${sid.length}.` };
  }
  return { ok: true, sid };
}
