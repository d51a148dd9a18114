/**
 * Session IDs. The format lives in the data contract (`tfwatcher/base/contract.json`), shared with the
 * Python package and the tests: 18 characters from an alphabet without 0 1 i l o (89 bits),
 * shown in groups of 6 (`x7kq2m-9hfw4c-pd3ntr`); sessions made by older versions have
 * 7-character IDs and still open. URLs and Firestore use the canonical form (no separators,
 * lower case); the page shows the grouped form.
 */
import { CONTRACT } from "./contract";

const format = CONTRACT.session_id;

export const SID_ALPHABET: string = format.alphabet;
export const SID_LENGTH: number = format.length;
export const SID_LEGACY_LENGTH: number = format.legacy_length;
const GROUP: number = format.group;
const SEPARATOR: string = format.separator;

/** Exactly a canonical ID (new or legacy): what URLs, push payloads and Firestore carry. */
export const SID_PATTERN = new RegExp(`^[${SID_ALPHABET}]{${SID_LENGTH}}$|^[${SID_ALPHABET}]{${SID_LEGACY_LENGTH}}$`);

export function isSid(text: unknown): text is string {
  return typeof text === "string" && SID_PATTERN.test(text);
}

/** The ID grouped for reading aloud (`x7kq2m-9hfw4c-pd3ntr`); legacy or malformed IDs unchanged. */
export function displaySid(sid: string): string {
  if (sid.length !== SID_LENGTH || !isSid(sid)) return sid;
  const parts: string[] = [];
  for (let i = 0; i < sid.length; i += GROUP) parts.push(sid.slice(i, i + GROUP));
  return parts.join(SEPARATOR);
}

/** `ok` carries the canonical ID, and the owner key when an owner link (`#k=`) was pasted. */
export type SidCheck = { ok: true; sid: string; key?: string } | { ok: false; sid: string; message: string };

// What people and phones put between the groups: hyphens (and the dashes autocorrect makes
// of them), spaces, dots, underscores.
const SEPARATORS = /[\s\-\u2010-\u2015\u2212._]+/g;
const LINK = /(?:^|\/)(?:s|logs)\/([^/?#]+)/;

function lengthRule(): string {
  return `A session ID has ${SID_LENGTH} characters (older ones ${SID_LEGACY_LENGTH})`;
}

/**
 * Reads a session ID from what was typed, pasted or found in a URL: the ID with or without
 * separators or spaces, in any case, or a share/owner link (`https://x.web.app/s/ID`,
 * `/logs/ID`, `/s/ID#k=...`). Returns the canonical ID, or a message saying what is wrong.
 */
export function checkSid(raw: string): SidCheck {
  let text = raw.trim();
  let key: string | undefined;
  const link = LINK.exec(text);
  if (link) {
    const hash = /#(.*)$/.exec(text);
    const k = hash ? new URLSearchParams(hash[1]).get("k") : null;
    if (k && k.length <= 256) key = k;
    try {
      text = decodeURIComponent(link[1]);
    } catch {
      text = link[1];
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { ok: false, sid: raw.trim(), message: "That link doesn't lead to a session: a session link ends in /s/ followed by the ID." };
  }
  const sid = text.toLowerCase().replace(SEPARATORS, "");
  if (sid.length === 0) return { ok: false, sid, message: `Enter the ${SID_LENGTH}-character session ID.` };
  const bad = [...new Set([...sid].filter((c) => !SID_ALPHABET.includes(c)))];
  if (bad.length > 0) {
    const shown = bad.map((c) => `“${c}”`).join(", ");
    const hint = bad.some((c) => "01ilo".includes(c))
      ? " IDs never use 0, 1, i, l or o — check for a look-alike letter or digit."
      : "";
    return { ok: false, sid, message: `A session ID has only letters and digits 2–9; this one contains ${shown}.${hint}` };
  }
  if (sid.length !== SID_LENGTH && sid.length !== SID_LEGACY_LENGTH) {
    return { ok: false, sid, message: `${lengthRule()}; this one has ${sid.length}.` };
  }
  return key ? { ok: true, sid, key } : { ok: true, sid };
}
