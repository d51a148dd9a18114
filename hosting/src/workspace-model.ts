/**
 * The workspace page's model (`/w/{ID}`): the run index documents
 * (`workspaces/{wid}/runs/{sid}`, docs/schema.md) normalised, their order (active runs first,
 * then newest), the status shown (the session page's stall judgement: silent for longer than
 * `stallAfterMs(heartbeat_every)`), filter by status, search by name, and the sparkline's path.
 * Pure: `now` is passed in; views/workspace.ts draws, workspace-feed.ts reads.
 */
import { CONTRACT, HEARTBEAT_FIELD, STATUSES, stallAfterMs } from "./contract";
import { isSid, displaySid } from "./sid";
import { formatAge, formatValue } from "./format";
import { STATUS_LABEL, toMs } from "./status";
import { visibleText } from "./visible";

export const PAGE_SIZE: number = CONTRACT.workspaces.page_size;
export const SPARK_POINTS: number = CONTRACT.workspaces.spark_points;

// The stored statuses by name, from the contract (never spelled as a list here).
const [NEW, RUNNING, FINISHED, CRASHED, STOPPED, STALLED] = STATUSES;

/** One run of the workspace, as its index document says; times in ms since the Unix epoch. */
export interface RunRow {
  sid: string;
  /** The run's name with control characters made visible; "" when it has none. */
  name: string;
  /** The stored status ("new", "running", …); "unknown" when missing or not one of the contract's. */
  status: string;
  active: boolean;
  run: number | null;
  createdMs: number | null;
  startedMs: number | null;
  /** Server time of the newest index write: the run's sign of life. */
  updatedMs: number | null;
  heartbeatEvery: number | null;
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  steps: number | null;
  loss: number | null;
  valLoss: number | null;
  /** Recent training loss, oldest first (at most SPARK_POINTS); null where not a number. */
  spark: (number | null)[];
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
const finite = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** An index document normalised; null when its ID is not a session ID (never shown or linked). */
export function parseRun(id: string, d: Record<string, unknown>): RunRow | null {
  if (!isSid(id)) return null;
  const status = typeof d.status === "string" && STATUSES.includes(d.status) ? d.status : "unknown";
  const spark = Array.isArray(d.spark) ? d.spark.slice(-SPARK_POINTS).map(num) : [];
  return {
    sid: id,
    name: typeof d.name === "string" ? visibleText(d.name) : "",
    status,
    active: d.active === true,
    run: finite(d.run),
    createdMs: toMs(d.created),
    startedMs: toMs(d.started) ?? toMs(d.created),
    updatedMs: toMs(d.updated),
    heartbeatEvery: finite(d[HEARTBEAT_FIELD]),
    epoch: finite(d.epoch),
    epochs: finite(d.epochs),
    step: finite(d.step),
    steps: finite(d.steps),
    // NaN and ±Inf are values (a loss that went NaN must say so): kept, spelled by formatValue.
    loss: num(d.loss),
    valLoss: num(d.val_loss),
    spark,
  };
}

/** What the list shows: the stored status, "stalled" for an active run silent too long. */
export type ShownStatus = "new" | "running" | "finished" | "crashed" | "stopped" | "stalled" | "unknown";

export function shownStatus(r: Pick<RunRow, "status" | "updatedMs" | "heartbeatEvery">, nowMs: number): ShownStatus {
  if (r.status === RUNNING || r.status === NEW) {
    if (r.updatedMs != null && nowMs - r.updatedMs > stallAfterMs(r.heartbeatEvery)) return STALLED as ShownStatus;
    return r.status as ShownStatus;
  }
  return r.status as ShownStatus;
}

// The session page's labels, plus "Starting" for a run that has not reported yet.
export const SHOWN_LABEL: Record<ShownStatus, string> = { new: "Starting", ...STATUS_LABEL };

/**
 * Active runs first, then newest started first; ties broken by the session ID, descending, as
 * Firestore breaks them for `orderBy(started, desc)` (so the list and the query agree).
 */
export function compareRuns(a: Pick<RunRow, "active" | "startedMs" | "sid">, b: Pick<RunRow, "active" | "startedMs" | "sid">): number {
  if (a.active !== b.active) return a.active ? -1 : 1;
  return compareByStart(a, b);
}

/** The all-runs query's order: started, newest first, then the session ID descending. */
export function compareByStart(a: Pick<RunRow, "startedMs" | "sid">, b: Pick<RunRow, "startedMs" | "sid">): number {
  const sa = a.startedMs ?? -Infinity;
  const sb = b.startedMs ?? -Infinity;
  if (sa !== sb) return sb - sa;
  return a.sid < b.sid ? 1 : a.sid > b.sid ? -1 : 0;
}

export function orderRuns(rows: Iterable<RunRow>): RunRow[] {
  return [...rows].sort(compareRuns);
}

/** The filter's choices; "running" includes runs that are starting ("new"). */
export type StatusFilter = "all" | "running" | "stalled" | "finished" | "crashed" | "stopped";
export const FILTERS: StatusFilter[] = ["all", RUNNING, STALLED, FINISHED, CRASHED, STOPPED] as StatusFilter[];
export const FILTER_LABEL: Record<StatusFilter, string> = {
  all: "All",
  running: "Running",
  stalled: "Stalled",
  finished: "Finished",
  crashed: "Crashed",
  stopped: "Stopped",
};

export function matchesFilter(shown: ShownStatus, f: StatusFilter): boolean {
  if (f === "all") return true;
  if (f === RUNNING) return shown === RUNNING || shown === NEW;
  return shown === f;
}

/** Case-insensitive; every word of the query must be in the name or the session ID (any form). */
export function matchesSearch(r: Pick<RunRow, "sid" | "name">, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = `${r.name.toLowerCase()}\n${r.sid}\n${displaySid(r.sid)}`;
  return words.every((w) => hay.includes(w));
}

export interface ListView {
  rows: RunRow[];
  /** Loaded runs per filter choice (before search), for the filter's labels. */
  counts: Record<StatusFilter, number>;
  loaded: number;
}

/** The rows to show, in order, and how many of the loaded runs each filter would show. */
export function listView(all: Iterable<RunRow>, filter: StatusFilter, query: string, nowMs: number): ListView {
  const ordered = orderRuns(all);
  const counts = Object.fromEntries(FILTERS.map((f) => [f, 0])) as Record<StatusFilter, number>;
  const rows: RunRow[] = [];
  for (const r of ordered) {
    const s = shownStatus(r, nowMs);
    for (const f of FILTERS) if (matchesFilter(s, f)) counts[f]++;
    if (matchesFilter(s, filter) && matchesSearch(r, query)) rows.push(r);
  }
  return { rows, counts, loaded: ordered.length };
}

/** "epoch 3/10 · step 120/500", "epoch 3", "" when nothing is known. */
export function progressText(r: Pick<RunRow, "epoch" | "epochs" | "step" | "steps">): string {
  const part = (label: string, v: number | null, total: number | null) =>
    v == null ? null : total != null && total > 0 ? `${label} ${v}/${total}` : `${label} ${v}`;
  return [part("epoch", r.epoch, r.epochs), part("step", r.step, r.steps)].filter(Boolean).join(" · ");
}

/** "loss 0.123 · val_loss 0.145" (NaN and ±Inf spelled out); "" when neither is known. */
export function lossText(r: Pick<RunRow, "loss" | "valLoss">): string {
  const parts: string[] = [];
  if (r.loss != null) parts.push(`loss ${formatValue(r.loss)}`);
  if (r.valLoss != null) parts.push(`val_loss ${formatValue(r.valLoss)}`);
  return parts.join(" · ");
}

/** "started 12 min ago"; for a stalled run, when it was last heard of. */
export function ageText(r: Pick<RunRow, "startedMs" | "updatedMs">, shown: ShownStatus, nowMs: number): string {
  if (shown === STALLED && r.updatedMs != null) return `silent ${formatAge(Math.max(0, nowMs - r.updatedMs)).replace(/ ago$/, "")}`;
  if (r.startedMs == null) return "";
  return `started ${formatAge(Math.max(0, nowMs - r.startedMs))}`;
}

/**
 * The sparkline as an SVG path in a `w`×`h` box: x evenly spaced, y scaled to the finite
 * values' range (flat data drawn mid-height), a gap at each NaN/±Inf/missing value. "" when
 * fewer than two finite values.
 */
export function sparkPath(values: readonly (number | null)[], w: number, h: number, pad = 1): string {
  const ok = values.filter((v): v is number => v != null && Number.isFinite(v));
  if (ok.length < 2) return "";
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ok) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const n = values.length;
  const dx = n > 1 ? (w - 2 * pad) / (n - 1) : 0;
  const span = hi - lo;
  const y = (v: number) => (span > 0 ? pad + (h - 2 * pad) * (1 - (v - lo) / span) : h / 2);
  const r = (x: number) => Math.round(x * 10) / 10;
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${r(pad + i * dx)} ${r(y(v))}`;
    pen = true;
  });
  return d;
}
