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
  return groupIdBody(sid);
}

/** An ID body in groups of the contract's size, joined by its separator (shared with wid.ts). */
export function groupIdBody(body: string): string {
  const parts: string[] = [];
  for (let i = 0; i < body.length; i += GROUP) parts.push(body.slice(i, i + GROUP));
  return parts.join(SEPARATOR);
}

/** `ok` carries the canonical ID, and the owner key when an owner link (`#k=`) was pasted. */
export type SidCheck = { ok: true; sid: string; key?: string } | { ok: false; sid: string; message: string };

// What people and phones put between the groups: hyphens (and the dashes autocorrect makes
// of them), spaces, dots, underscores. Shared with wid.ts.
export const ID_SEPARATORS = /[\s\-\u2010-\u2015\u2212._]+/g;
const LINK = /(?:^|\/)(?:s|logs)\/([^/?#]+)/;

/**
 * What was typed or pasted, reduced to a bare ID (lower case, no separators) and the owner key
 * of an owner link (`#k=`): from the ID itself or from a link whose ID `link`'s first group
 * captures. `undefined` when `raw` is a URL of another kind. Shared by checkSid and checkWid.
 */
export function readIdInput(raw: string, link: RegExp): { id: string; key?: string } | undefined {
  let text = raw.trim();
  let key: string | undefined;
  const found = link.exec(text);
  if (found) {
    const hash = /#(.*)$/.exec(text);
    const k = hash ? new URLSearchParams(hash[1]).get("k") : null;
    if (k && k.length <= 256) key = k;
    try {
      text = decodeURIComponent(found[1]);
    } catch {
      text = found[1];
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return undefined;
  }
  const id = text.toLowerCase().replace(ID_SEPARATORS, "");
  return key ? { id, key } : { id };
}

/** The characters of `body` outside the ID alphabet, quoted, with a look-alike hint; `undefined` if none. */
export function foreignCharacters(body: string): string | undefined {
  const bad = [...new Set([...body].filter((c) => !SID_ALPHABET.includes(c)))];
  if (bad.length === 0) return undefined;
  const shown = bad.map((c) => `“${c}”`).join(", ");
  const hint = bad.some((c) => "01ilo".includes(c))
    ? " IDs never use 0, 1, i, l or o — check for a look-alike letter or digit."
    : "";
  return `${shown}.${hint}`;
}

function lengthRule(): string {
  return `A session ID has ${SID_LENGTH} characters (older ones ${SID_LEGACY_LENGTH})`;
}

/**
 * Reads a session ID from what was typed, pasted or found in a URL: the ID with or without
 * separators or spaces, in any case, or a share/owner link (`https://x.web.app/s/ID`,
 * `/logs/ID`, `/s/ID#k=...`). Returns the canonical ID, or a message saying what is wrong.
 */
export function checkSid(raw: string): SidCheck {
  const read = readIdInput(raw, LINK);
  if (!read) {
    return { ok: false, sid: raw.trim(), message: "That link doesn't lead to a session: a session link ends in /s/ followed by the ID." };
  }
  const { id: sid, key } = read;
  if (sid.length === 0) return { ok: false, sid, message: `Enter the ${SID_LENGTH}-character session ID.` };
  const foreign = foreignCharacters(sid);
  if (foreign) {
    return { ok: false, sid, message: `A session ID has only letters and digits 2–9; this one contains ${foreign}` };
  }
  if (sid.length !== SID_LENGTH && sid.length !== SID_LEGACY_LENGTH) {
    return { ok: false, sid, message: `${lengthRule()}; this one has ${sid.length}.` };
  }
  return key ? { ok: true, sid, key } : { ok: true, sid };
}
