/**
 * What the service worker (sw.ts) does with a push from FCM, as pure functions.
 *
 * FCM delivers a web push whose data is JSON: `{notification: {title, body, tag, ...},
 * data: {sid, event, link}, fcmOptions?: {link}, from, fcmMessageId, ...}` (the message that
 * functions/tfw_functions/notify.py builds). The worker shows it as a notification and, when
 * it is tapped, focuses or opens the session page `/s/{sid}` of its own origin.
 */
import { displaySid, SID_PATTERN } from "./sid";

// Canonical session IDs only (tfwatcher/base/contract.json, through sid.ts): new and legacy.
const SID = SID_PATTERN;

const TITLES: Record<string, string> = {
  finished: "Training finished",
  crashed: "Training crashed",
  stalled: "Training stalled",
  nan: "Loss is NaN",
};

export interface PushData {
  sid?: string;
  event?: string;
  link?: string;
}

export interface PushDisplay {
  title: string;
  options: { body: string; tag?: string; icon: string; badge: string; data: PushData };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" ? (v as Record<string, unknown>) : {};
}

/** The notification to show for a push payload (already parsed from JSON, or anything else). */
export function displayFromPayload(payload: unknown): PushDisplay {
  const p = obj(payload);
  const n = obj(p.notification);
  const d = obj(p.data);
  const sid = str(d.sid);
  const data: PushData = {
    sid: sid && SID.test(sid) ? sid : undefined,
    event: str(d.event),
    link: str(d.link) ?? str(obj(p.fcmOptions).link),
  };
  const title = str(n.title) ?? (data.event && TITLES[data.event]) ?? "TF Watcher";
  const body = str(n.body) ?? (data.sid ? `Session ${displaySid(data.sid)}` : "");
  const tag = str(n.tag) ?? (data.sid ? `tfwatcher-${data.sid}-${data.event ?? "note"}` : undefined);
  return {
    title,
    options: { body, ...(tag ? { tag } : {}), icon: "/icons/icon-192.png", badge: "/icons/icon-192.png", data },
  };
}

/**
 * Where a tap on the notification leads: `/s/{sid}` on the worker's own origin when the data
 * names a valid session (the read-only link, never an owner key); else the `link` if it is on
 * this origin or https; else the home page.
 */
export function clickTarget(data: unknown, origin: string): string {
  const d = obj(data);
  const sid = str(d.sid);
  if (sid && SID.test(sid)) return `${origin}/s/${sid}`;
  const link = str(d.link);
  if (link) {
    try {
      const u = new URL(link, origin);
      if (u.origin === origin || u.protocol === "https:") return u.href;
    } catch {
      /* not a URL */
    }
  }
  return `${origin}/`;
}
