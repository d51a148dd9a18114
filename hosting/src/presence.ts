/**
 * Freshness follows attention (docs/dashboard.md, "Presence and freshness"). While the session
 * page shows a session that is new or running, and the page is visible, it announces itself in
 * `sessions/{sid}/presence/now` = {until, at}; the writer listens to that document and sends at
 * its watched cadence (1 s) while `until` is in the future, otherwise one round every few minutes.
 *
 * - A write on open, then one every `presence_refresh_seconds` (60), each with a lease of
 *   `presence_lease_seconds` (120): the lease outlives one missed refresh.
 * - Never sooner than `presence_min_interval_seconds` (30) after our last write settled (the
 *   rules refuse faster). A refused or failed write is not retried early: the next one is the
 *   next refresh. At most one write in flight (offline, the SDK would queue them) and one timer.
 * - Hidden: no writes (the timer is dropped at once); the lease lapses by itself, since a
 *   browser cannot delete the document. Shown again: the regular schedule resumes — a write at
 *   once if the last is a refresh period old, else when it falls due (the lease still runs).
 * - Ended (or left): no more writes.
 *
 * `until` is a client Timestamp (only `at` can be the server's). The rules take request.time <
 * until <= request.time + 600 s, so with a 120 s lease a clock up to 8 min fast or 2 min slow
 * passes; a slow clock is also corrected by the newest server time the page has seen (the
 * session's heartbeat), see presenceUntil.
 *
 * The decisions are pure functions (presenceUntil, nextWriteAt, freshnessNote); the controller
 * (startPresence) adds the one timer, the page's visibility and the injected write, so tests
 * drive it with fake timers and a stand-in document.
 */
import { ATTENTION, ENDED_STATUSES, STATUSES } from "./contract";
import type { VisibilitySource } from "./visibility";

export const LEASE_MS = ATTENTION.presence_lease_seconds * 1000;
export const REFRESH_MS = ATTENTION.presence_refresh_seconds * 1000;
export const MIN_GAP_MS = ATTENTION.presence_min_interval_seconds * 1000;
/** The writer's slow cadence (seconds): a declared heartbeat this long means "nobody watches". */
export const UNWATCHED_S = ATTENTION.unwatched_round_seconds;
/** Statuses a presence write is allowed for (the rules' isWatchable): a run not ended, and not
 * marked stalled by the sweep (new and running). */
export const WATCHABLE = STATUSES.filter((s) => !ENDED_STATUSES.includes(s) && s !== "stalled");

/**
 * `until` for a write made at local time `nowMs`: one lease after the later of this clock and
 * the newest server time seen (a server timestamp is never in the server's future, so a local
 * clock behind it is slow by at least the difference).
 */
export function presenceUntil(nowMs: number, serverSeenMs: number | null): number {
  const base = serverSeenMs != null && Number.isFinite(serverSeenMs) && serverSeenMs > nowMs ? serverSeenMs : nowMs;
  return base + LEASE_MS;
}

/** Our last write: sent, and settled (acknowledged or refused; null while in flight). */
export interface LastWrite {
  sentMs: number;
  settledMs: number | null;
}

/** When the next write is due (local ms): at once if none yet, else the refresh, never inside the rules' gap. */
export function nextWriteAt(nowMs: number, last: LastWrite | null): number {
  if (!last) return nowMs;
  return Math.max(nowMs, last.sentMs + REFRESH_MS, (last.settledMs ?? last.sentMs) + MIN_GAP_MS);
}

/** "5 min", "90 s", "1 h". */
export function periodText(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s % 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = s / 60;
  return m % 60 === 0 ? `${m / 60} h` : `${m} min`;
}

export interface FreshnessInput {
  /** The stored status, and the status shown (stalled when a running session went quiet). */
  stored: string;
  shown: string;
  /** The session's declared heartbeat period (`heartbeat_every`, seconds), null if absent. */
  declaredS: number | null | undefined;
  /** Local time this page announced itself (the write that began our lease; null: none). */
  announcedMs: number | null;
  /** Local time a new heartbeat of the session last arrived from the server. */
  heartbeatSeenMs: number | null;
}

/**
 * How fresh the page is, when the writer is on its slow cadence (it declares a heartbeat of
 * `unwatched_round_seconds` or more): "Updated every 5 min while nobody watches", and "—
 * catching up…" from our acknowledged presence until the writer answers (a heartbeat newer than
 * it, or a declared period back under the slow one). Null otherwise: the watched cadence, an
 * ended run, or a stalled one (the stall message says it). A `heartbeat=180` run is not slow.
 */
export function freshnessNote(i: FreshnessInput): string | null {
  if (!WATCHABLE.includes(i.stored) || i.shown === "stalled") return null;
  const d = i.declaredS;
  if (typeof d !== "number" || !Number.isFinite(d) || d < UNWATCHED_S) return null;
  const every = `Updated every ${periodText(d)} while nobody watches`;
  if (i.announcedMs == null) return every;
  if (i.heartbeatSeenMs != null && i.heartbeatSeenMs > i.announcedMs) return null;
  return `${every} — catching up…`;
}

// ---- the controller ------------------------------------------------------------------------

export interface PresenceDeps {
  /** Writes {until, at: serverTimestamp()}; rejects when refused. */
  write(untilMs: number): Promise<unknown>;
  /** `document` (its visibility). */
  doc: VisibilitySource;
  now?: () => number;
  /** `announcedMs` changed (the page shows the note at once). */
  changed?: () => void;
}

export interface Presence {
  /** The session's stored status and newest server time seen (its heartbeat), on each snapshot. */
  session(status: string, serverSeenMs: number | null): void;
  /** Local time the write that began our lease in force was sent (also while it is in flight);
   * null when none is in force or coming. */
  readonly announcedMs: number | null;
  stop(): void;
}

interface WriteLog {
  sent: number;
  settled: number | null;
  ok: boolean | null;
  until: number;
}
/** `?debug`: every write (for the e2e tests: window.__tfwPresence). */
const debugLog: { writes: WriteLog[] } | null =
  typeof location !== "undefined" && new URLSearchParams(location.search).has("debug") ? { writes: [] } : null;
if (debugLog) (window as unknown as { __tfwPresence: typeof debugLog }).__tfwPresence = debugLog;

export function startPresence(deps: PresenceDeps): Presence {
  const now = deps.now ?? Date.now;
  let watchable = false;
  let serverSeen: number | null = null;
  let visible = deps.doc.visibilityState === "visible";
  let stopped = false;
  let inFlight = false;
  let last: LastWrite | null = null;
  let announced: number | null = null;
  let leaseEnd = -Infinity; // `until` of our newest acknowledged write
  let timer: ReturnType<typeof setTimeout> | null = null;

  const setAnnounced = (v: number | null) => {
    if (v === announced) return;
    announced = v;
    deps.changed?.();
  };
  const wanted = () => !stopped && watchable && visible;
  const clear = () => {
    if (timer != null) clearTimeout(timer);
    timer = null;
  };
  /** The one timer: set for the next write when one is wanted (never while one is in flight). */
  const plan = () => {
    clear();
    if (!wanted() || inFlight) return;
    const t = now();
    timer = setTimeout(fire, Math.max(0, nextWriteAt(t, last) - t));
  };
  const fire = () => {
    timer = null;
    if (!wanted() || inFlight) return;
    inFlight = true;
    const sent = now();
    const entry: WriteLog = { sent, settled: null, ok: null, until: presenceUntil(sent, serverSeen) };
    if (debugLog && debugLog.writes.length < 500) debugLog.writes.push(entry);
    last = { sentMs: sent, settledMs: null };
    // A write when no lease of ours runs announces anew (the writer may be on its slow cadence).
    const begins = announced == null || sent >= leaseEnd;
    if (begins) setAnnounced(sent);
    const settle = (ok: boolean) => {
      const t = now();
      inFlight = false;
      entry.settled = t;
      entry.ok = ok;
      last = { sentMs: sent, settledMs: t };
      if (ok) leaseEnd = Math.max(leaseEnd, entry.until);
      else if (begins) setAnnounced(null);
      plan();
    };
    // A refusal is expected now and then (another viewer refreshed within 30 s, the run just
    // ended): quietly, and the next try is the next refresh.
    let p: Promise<unknown>;
    try {
      p = deps.write(entry.until);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(() => settle(true), () => settle(false));
  };
  const onVisibility = () => {
    const v = deps.doc.visibilityState === "visible";
    if (v === visible) return;
    visible = v;
    plan();
  };
  deps.doc.addEventListener("visibilitychange", onVisibility);

  return {
    session(status: string, serverSeenMs: number | null) {
      if (serverSeenMs != null && (serverSeen == null || serverSeenMs > serverSeen)) serverSeen = serverSeenMs;
      const w = WATCHABLE.includes(status);
      if (w === watchable) return;
      watchable = w;
      plan();
    },
    get announcedMs() {
      return announced;
    },
    stop() {
      stopped = true;
      clear();
      deps.doc.removeEventListener("visibilitychange", onVisibility);
    },
  };
}
