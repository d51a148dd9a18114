/** Session status, progress, ETA and time formatting. Pure functions: `now` is passed in. */

/** A running session whose newest sign of life is older than this is shown as stalled. */
export const STALL_MS = 2 * 60 * 1000;

export const SCHEMA_VERSION = 2;

export type Status = "running" | "finished" | "crashed" | "stopped" | "stalled" | "unknown";

export interface Plan {
  epochs: number | null;
  steps: number | null;
}
export interface Progress {
  epoch: number;
  batch: number;
  step: number;
}

/** The session document, normalised; times in ms since the Unix epoch. */
export interface SessionInfo {
  schema: number;
  status: string;
  mode: string;
  name: string;
  createdMs: number | null;
  heartbeatMs: number | null;
  endedMs: number | null;
  plan: Plan;
  progress: Progress | null;
  metrics: string[];
  latest: { name: string; value: number | null }[];
  error: { type: string; message: string } | null;
  versions: Record<string, string>;
  nan: boolean;
}

/** Firestore Timestamp (or Date, or ms number) → ms; anything else → null. */
export function toMs(v: unknown): number | null {
  if (v == null) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "object" && typeof (v as { toMillis?: unknown }).toMillis === "function") {
    return (v as { toMillis(): number }).toMillis();
  }
  return null;
}

function int(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

export function parseSession(d: Record<string, unknown>): SessionInfo {
  const plan = (d.plan ?? {}) as Record<string, unknown>;
  const progress = d.progress as Record<string, unknown> | null | undefined;
  const error = d.error as Record<string, unknown> | null | undefined;
  const latest = Array.isArray(d.latest) ? d.latest : [];
  const versions: Record<string, string> = {};
  if (d.versions && typeof d.versions === "object") {
    for (const [k, v] of Object.entries(d.versions as object)) if (typeof v === "string") versions[k] = v;
  }
  return {
    schema: int(d.schema) ?? 1,
    status: str(d.status) || "unknown",
    mode: str(d.mode),
    name: str(d.name),
    createdMs: toMs(d.created),
    heartbeatMs: toMs(d.heartbeat),
    endedMs: toMs(d.ended),
    plan: { epochs: int(plan.epochs), steps: int(plan.steps) },
    progress:
      progress && typeof progress === "object"
        ? { epoch: int(progress.epoch) ?? 0, batch: int(progress.batch) ?? 0, step: int(progress.step) ?? 0 }
        : null,
    metrics: Array.isArray(d.metrics) ? d.metrics.filter((m): m is string => typeof m === "string") : [],
    latest: latest
      .filter((l): l is Record<string, unknown> => !!l && typeof l === "object" && typeof l.name === "string")
      .map((l) => ({ name: l.name as string, value: typeof l.value === "number" ? l.value : null })),
    error:
      error && typeof error === "object"
        ? { type: str(error.type) || "Error", message: str(error.message) }
        : null,
    versions,
    nan: d.nan === true,
  };
}

/**
 * Newest sign of life in ms: the session heartbeat (server time) or the end time of the
 * newest epoch or batch point (writer's clock, Unix seconds).
 */
export function lastActivityMs(
  heartbeatMs: number | null,
  lastEpochTimeSec: number | null,
  lastBatchTimeSec: number | null,
): number | null {
  let best: number | null = heartbeatMs;
  for (const s of [lastEpochTimeSec, lastBatchTimeSec]) {
    if (s == null || !Number.isFinite(s)) continue;
    const ms = s * 1000;
    if (best == null || ms > best) best = ms;
  }
  return best;
}

/** What to show: the stored status, or "stalled" when a running session has gone quiet. */
export function effectiveStatus(
  stored: string,
  lastActivity: number | null,
  nowMs: number,
  thresholdMs = STALL_MS,
): Status {
  switch (stored) {
    case "running":
      if (lastActivity != null && nowMs - lastActivity > thresholdMs) return "stalled";
      return "running";
    case "finished":
    case "crashed":
    case "stopped":
    case "stalled":
      return stored;
    default:
      return "unknown";
  }
}

export interface EtaInput {
  status: Status;
  plan: Plan;
  progress: Progress | null;
  /** Seconds of the most recent whole epochs, oldest first (validation included). */
  epochSeconds: readonly (number | null)[];
  /** Seconds of the most recent batches, oldest first. */
  batchSeconds: readonly (number | null)[];
}

function meanOfLast(xs: readonly (number | null)[], n: number): number | null {
  let sum = 0;
  let k = 0;
  for (let i = xs.length - 1; i >= 0 && k < n; i--) {
    const v = xs[i];
    if (v == null || !Number.isFinite(v) || v < 0) continue;
    sum += v;
    k++;
  }
  return k > 0 ? sum / k : null;
}

/**
 * Seconds until the planned epochs are done, or null when unknown (not running, no plan, no
 * timings yet). The rest of this epoch costs (steps − batch) × seconds per batch; each later
 * epoch costs the mean of the last few epochs (which includes validation), or steps × seconds
 * per batch before the first epoch ends.
 */
export function estimateEta(i: EtaInput): number | null {
  if (i.status !== "running" && i.status !== "stalled") return null;
  const { epochs, steps } = i.plan;
  if (epochs == null || epochs <= 0) return null;
  const p = i.progress ?? { epoch: 0, batch: 0, step: 0 };
  const perEpoch = meanOfLast(i.epochSeconds, 5);
  let perBatch = meanOfLast(i.batchSeconds, 50);
  if (perBatch == null && perEpoch != null && steps) perBatch = perEpoch / steps;
  // Progress says "last batch of epoch e": if the epoch is complete, the next one starts.
  let epoch = Math.max(p.epoch, 1);
  let batch = Math.max(p.batch, 0);
  if (steps && batch >= steps) {
    epoch += 1;
    batch = 0;
  }
  if (p.epoch === 0) batch = 0;
  if (epoch > epochs) return 0;
  const laterEpochs = epochs - epoch;
  let rest: number | null;
  if (steps) {
    rest = perBatch != null ? (steps - batch) * perBatch : perEpoch != null ? perEpoch * (1 - batch / steps) : null;
  } else {
    rest = perEpoch != null ? perEpoch / 2 : null; // no step plan: half an epoch on average
  }
  const later = perEpoch ?? (steps && perBatch != null ? steps * perBatch : null);
  if (rest == null || later == null) return null;
  return Math.max(0, rest + laterEpochs * later);
}

/** Fraction done in [0, 1], or null without a plan. */
export function fractionDone(plan: Plan, progress: Progress | null): number | null {
  if (!plan.epochs || !progress) return null;
  if (plan.steps) {
    const done = (progress.epoch - 1) * plan.steps + progress.batch;
    return Math.min(1, Math.max(0, done / (plan.epochs * plan.steps)));
  }
  return Math.min(1, Math.max(0, progress.epoch / plan.epochs));
}

/** 3725 → "1 h 02 min", 184 → "3 min 04 s", 12.4 → "12 s". */
export function formatDuration(sec: number | null): string {
  if (sec == null || !Number.isFinite(sec)) return "—";
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Age of the last update: "just now", "42 s ago", "3 min ago". */
export function formatAge(ms: number | null): string {
  if (ms == null) return "—";
  if (ms < 5000) return "just now";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Metric values: short and exact enough for a phone. NaN and ±Inf spelled out. */
export function formatValue(v: number | null): string {
  if (v == null) return "—";
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "−Inf";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

export const STATUS_LABEL: Record<Status, string> = {
  running: "Running",
  finished: "Finished",
  crashed: "Crashed",
  stopped: "Stopped",
  stalled: "Stalled",
  unknown: "Unknown",
};
