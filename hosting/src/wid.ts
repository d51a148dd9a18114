/**
 * Workspace IDs (contract `workspace_id`): the prefix `w` then a body shaped like a session ID
 * (same alphabet and length: 89 bits), shown `w-x7kq2m-9hfw4c-pd3ntr`. URLs and Firestore use
 * the canonical form (`wx7kq2m9hfw4cpd3ntr`); links are `/w/{ID}` (read-only) and
 * `/w/{ID}#k={ownerKey}` (owner). A workspace ID is one character longer than a session ID,
 * so neither is ever mistaken for the other. Mirrors sid.ts.
 */
import { CONTRACT } from "./contract";
import { ID_SEPARATORS, SID_ALPHABET, SID_LENGTH, foreignCharacters, groupIdBody, readIdInput } from "./sid";

const format = CONTRACT.workspace_id;

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
  return WID_DISPLAY_PREFIX + groupIdBody(wid.slice(WID_PREFIX.length));
}

/** `ok` carries the canonical ID, and the owner key when an owner link (`#k=`) was pasted. */
export type WidCheck = { ok: true; wid: string; key?: string } | { ok: false; wid: string; message: string };

const LINK = /(?:^|\/)w\/([^/?#]+)/;

/** Whether `raw` looks like an attempt at a workspace ID or link (for the home form). */
export function looksLikeWid(raw: string): boolean {
  const t = raw.trim();
  if (LINK.test(t)) return true;
  const bare = t.toLowerCase().replace(ID_SEPARATORS, "");
  return bare.startsWith(WID_PREFIX) && bare.length === WID_LENGTH;
}

/**
 * Reads a workspace ID from what was typed, pasted or found in a URL: the ID with or without
 * separators, in any case, or a workspace link (`https://x.web.app/w/ID`, `/w/ID#k=...`).
 */
export function checkWid(raw: string): WidCheck {
  const read = readIdInput(raw, LINK);
  if (!read) {
    return { ok: false, wid: raw.trim(), message: "That link doesn't lead to a workspace: a workspace link ends in /w/ followed by the ID." };
  }
  const { id: wid, key } = read;
  if (wid.length === 0) return { ok: false, wid, message: "Enter the workspace ID." };
  if (!wid.startsWith(WID_PREFIX)) {
    return { ok: false, wid, message: `A workspace ID starts with “${WID_DISPLAY_PREFIX}”.` };
  }
  const body = wid.slice(WID_PREFIX.length);
  const foreign = foreignCharacters(body);
  if (foreign) {
    return { ok: false, wid, message: `After “${WID_DISPLAY_PREFIX}”, a workspace ID has only letters and digits 2–9; this one contains ${foreign}` };
  }
  if (body.length !== SID_LENGTH) {
    return { ok: false, wid, message: `A workspace ID has “${WID_DISPLAY_PREFIX}” and ${SID_LENGTH} characters; this one has ${body.length}.` };
  }
  return key ? { ok: true, wid, key } : { ok: true, wid };
}
