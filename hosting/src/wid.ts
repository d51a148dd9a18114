/**
 * Workspace IDs (contract `workspace_id`): the prefix `w` then a body shaped like a session ID
 * (same alphabet and length: 89 bits), shown `w-x7kq2m-9hfw4c-pd3ntr`. URLs and Firestore use
 * the canonical form (`wx7kq2m9hfw4cpd3ntr`); links are `/w/{ID}` (read-only) and
 * `/w/{ID}#k={ownerKey}` (owner). A workspace ID is one character longer than a session ID,
 * so neither is ever mistaken for the other. Mirrors sid.ts.
 */
import { CONTRACT } from "./contract";
import { SID_ALPHABET, SID_LENGTH } from "./sid";

const format = CONTRACT.workspace_id;
const GROUP: number = CONTRACT.session_id.group;
const SEPARATOR: string = CONTRACT.session_id.separator;

export const WID_PREFIX: string = format.prefix;
export const WID_DISPLAY_PREFIX: string = format.display_prefix;
export const WID_LENGTH = WID_PREFIX.length + SID_LENGTH;

/** Exactly a canonical workspace ID: what URLs and Firestore carry. */
export const WID_PATTERN = new RegExp(`^${WID_PREFIX}[${SID_ALPHABET}]{${SID_LENGTH}}$`);

export function isWid(text: unknown): text is string {
  return typeof text === "string" && WID_PATTERN.test(text);
}

/** `w-x7kq2m-9hfw4c-pd3ntr`; anything that is not a workspace ID unchanged. */
export function displayWid(wid: string): string {
  if (!isWid(wid)) return wid;
  const body = wid.slice(WID_PREFIX.length);
  const parts: string[] = [];
  for (let i = 0; i < body.length; i += GROUP) parts.push(body.slice(i, i + GROUP));
  return WID_DISPLAY_PREFIX + parts.join(SEPARATOR);
}

/** `ok` carries the canonical ID, and the owner key when an owner link (`#k=`) was pasted. */
export type WidCheck = { ok: true; wid: string; key?: string } | { ok: false; wid: string; message: string };

// As sid.ts: hyphens (and the dashes autocorrect makes of them), spaces, dots, underscores.
const SEPARATORS = /[\s\-\u2010-\u2015\u2212._]+/g;
const LINK = /(?:^|\/)w\/([^/?#]+)/;

/** Whether `raw` looks like an attempt at a workspace ID or link (for the home form). */
export function looksLikeWid(raw: string): boolean {
  const t = raw.trim();
  if (LINK.test(t)) return true;
  const bare = t.toLowerCase().replace(SEPARATORS, "");
  return bare.startsWith(WID_PREFIX) && bare.length === WID_LENGTH;
}

/**
 * Reads a workspace ID from what was typed, pasted or found in a URL: the ID with or without
 * separators, in any case, or a workspace link (`https://x.web.app/w/ID`, `/w/ID#k=...`).
 */
export function checkWid(raw: string): WidCheck {
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
    return { ok: false, wid: raw.trim(), message: "That link doesn't lead to a workspace: a workspace link ends in /w/ followed by the ID." };
  }
  const wid = text.toLowerCase().replace(SEPARATORS, "");
  if (wid.length === 0) return { ok: false, wid, message: "Enter the workspace ID." };
  if (!wid.startsWith(WID_PREFIX)) {
    return { ok: false, wid, message: `A workspace ID starts with “${WID_DISPLAY_PREFIX}”.` };
  }
  const body = wid.slice(WID_PREFIX.length);
  const bad = [...new Set([...body].filter((c) => !SID_ALPHABET.includes(c)))];
  if (bad.length > 0) {
    const shown = bad.map((c) => `“${c}”`).join(", ");
    const hint = bad.some((c) => "01ilo".includes(c)) ? " IDs never use 0, 1, i, l or o — check for a look-alike letter or digit." : "";
    return { ok: false, wid, message: `After “${WID_DISPLAY_PREFIX}”, a workspace ID has only letters and digits 2–9; this one contains ${shown}.${hint}` };
  }
  if (body.length !== SID_LENGTH) {
    return { ok: false, wid, message: `A workspace ID has “${WID_DISPLAY_PREFIX}” and ${SID_LENGTH} characters; this one has ${body.length}.` };
  }
  return key ? { ok: true, wid, key } : { ok: true, wid };
}
