/** Session status, progress, ETA and time formatting. Pure functions: `now` is passed in. */

/** A running session whose newest sign of life is older than this is shown as stalled. */
export const STALL_MS = 2 * 60 * 1000;

export const SCHEMA_VERSION = 2;

export type Status = "running" | "finished" | "crashed" | "stopped" | "stalled" | "unknown";

export interface Plan {
  /** The epoch number the run ends at (a second fit on a callback goes on from the first's). */
  epochs: number | null;
  steps: number | null;
  /** The run's first epoch number (1 unless it continues an earlier fit's numbers). */
  firstEpoch?: number | null;
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
  /** The run's hyperparameters (`config`), in their order; [] when none were given. */
  config: ConfigEntry[];
  /** Which run of the session is (or was last) in progress; null from older writers. */
  run: number | null;
}

export interface ConfigEntry {
  name: string;
  value: number | string | boolean | null;
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
    plan: { epochs: int(plan.epochs), steps: int(plan.steps), firstEpoch: int(plan.first_epoch) },
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
    config: parseConfig(d.config),
    run: typeof d.run === "number" && Number.isInteger(d.run) && d.run >= 0 ? d.run : null,
  };
}

/** `config` as stored (`[{name, value}]`); entries without a string name are skipped. */
export function parseConfig(v: unknown): ConfigEntry[] {
  if (!Array.isArray(v)) return [];
  const out: ConfigEntry[] = [];
  for (const e of v) {
    if (!e || typeof e !== "object" || typeof (e as { name?: unknown }).name !== "string") continue;
    const value = (e as { value?: unknown }).value;
    out.push({
      name: (e as { name: string }).name,
      value:
        typeof value === "number" || typeof value === "string" || typeof value === "boolean"
          ? value
          : value == null
            ? null
            : jsonText(value),
    });
  }
  return out;
}

function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A config value as shown: numbers exactly as stored, text as text, `null` for None. */
export function formatConfigValue(v: ConfigEntry["value"]): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (v === Infinity) return "+Inf";
    if (v === -Infinity) return "−Inf";
    return String(v);
  }
  return String(v);
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

// ---- progress from the newest data ---------------------------------------------------------

/** The batch kind a run of a given mode produces. */
export type RunKind = "train" | "test" | "predict";

export function runKind(mode: string): RunKind {
  return mode === "evaluate" ? "test" : mode === "predict" ? "predict" : "train";
}

/** The newest train epoch row (epoch document or epoch table row). `time`: Unix seconds. */
export interface NewestEpoch {
  epoch: number;
  step: number | null;
  time: number | null;
}

/**
 * The newest batch point of the run's kind. `epoch` and `batch` when the reader has them;
 * without them they are worked out from the session document's progress and the step.
 */
export interface NewestBatch {
  step: number;
  time: number | null;
  epoch?: number | null;
  batch?: number | null;
}

/** What the status card shows. */
export interface Live {
  kind: RunKind;
  /** Labels of the two progress facts: "Epoch"/"Step", or "Evaluate"/"Batch", "Predict"/"Batch". */
  epochLabel: string;
  stepLabel: string;
  /** Epoch (fit) or call number (evaluate/predict); null when unknown. */
  epoch: number | null;
  /** Planned epochs of this run; null when unknown, or when the epoch numbers continue an earlier fit's. */
  epochTotal: number | null;
  /** Batch within the epoch (or the call). */
  batch: number | null;
  /** Batches per epoch (or per call) of this run. */
  batchTotal: number | null;
  /** Global step (train) or the kind's own step. */
  step: number | null;
  /** Done in [0, 1], or null when unknown. */
  fraction: number | null;
  /** Where the run is, for the ETA; null when unknown. */
  progress: Progress | null;
}

const positive = (v: number | null | undefined): number | null =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;

/**
 * The freshest progress of the current run. The session document's `progress` is written
 * with the heartbeat (every 10 s by default), so it can be epochs behind the charts; the
 * newest epoch row and the newest batch point of the run's kind say more, as soon as they
 * arrive.
 *
 * - `fit` (and `custom`): whichever of the document, the newest train batch point and the
 *   newest train epoch row is furthest (by step; an epoch row means its epoch is complete).
 *   Without the point's own epoch/batch they are counted on from the document's progress
 *   with the plan's steps per epoch.
 * - `evaluate` / `predict`: the document's progress belongs to the fit, so it is not shown;
 *   the newest point of the kind (`test`, `predict`) gives the call and the batch, out of the
 *   plan's steps (this run's). Points at or before `since` (Unix seconds: the end of the
 *   previous run's newest record) belong to an earlier run and are ignored.
 * - Totals are always the plan of the current run (the session document's `plan`, which every
 *   run rewrites). A fit that continues an earlier one's epoch numbers (a second `fit()` on
 *   the same callback logs epochs 6, 7, … with `epochs: 3`) has no known epoch total: the
 *   epoch is shown alone and the fraction and ETA are unknown, never "7 of 3".
 */
export function liveProgress(
  info: Pick<SessionInfo, "mode" | "plan" | "progress">,
  newestEpoch: NewestEpoch | null,
  newestBatch: NewestBatch | null,
  since: number | null = null,
): Live {
  const kind = runKind(info.mode);
  const S = positive(info.plan.steps);
  const N = positive(info.plan.epochs);
  if (kind !== "train") {
    const b = newestBatch && (since == null || newestBatch.time == null || newestBatch.time > since) ? newestBatch : null;
    const call = b?.epoch ?? null;
    const batch = b ? (b.batch ?? null) : null;
    return {
      kind,
      epochLabel: kind === "test" ? "Evaluate" : "Predict",
      stepLabel: "Batch",
      epoch: call,
      epochTotal: null,
      batch,
      batchTotal: S,
      step: b?.step ?? null,
      fraction: S && batch != null ? clamp01(batch / S) : null,
      progress: batch != null ? { epoch: call ?? 1, batch, step: b!.step } : null,
    };
  }

  let p: Progress | null = info.progress ? { ...info.progress } : null;
  const nb = newestBatch;
  if (nb && Number.isFinite(nb.step) && (p == null || nb.step > p.step)) {
    if (nb.epoch != null && nb.batch != null) {
      p = { epoch: nb.epoch, batch: nb.batch, step: nb.step };
    } else {
      const base = p ?? { epoch: 0, batch: 0, step: 0 };
      let epoch = Math.max(base.epoch, 1);
      let batch = base.batch + (nb.step - base.step);
      if (S) {
        while (batch > S) {
          batch -= S;
          epoch++;
        }
      }
      p = { epoch, batch, step: nb.step };
    }
  }
  const ne = newestEpoch;
  if (ne && Number.isFinite(ne.epoch)) {
    const st = ne.step ?? -Infinity;
    if (p == null || ne.epoch > p.epoch || (ne.epoch === p.epoch && st >= p.step)) {
      // That epoch is complete.
      p = { epoch: ne.epoch, batch: S ?? p?.batch ?? 0, step: Math.max(st, p?.step ?? 0, 0) };
    }
  }
  const continued = p != null && N != null && p.epoch > N;
  let fraction: number | null = null;
  if (p && N && !continued) {
    // Of this run: a second fit numbered 6..8 is half done at the end of epoch 7.
    const first = Math.min(Math.max(positive(info.plan.firstEpoch ?? null) ?? 1, 1), N);
    const e = Math.max(p.epoch - first + 1, 0);
    const n = N - first + 1;
    fraction = S ? clamp01(((e - 1) * S + Math.min(p.batch, S)) / (n * S)) : clamp01(e / n);
  }
  return {
    kind,
    epochLabel: "Epoch",
    stepLabel: "Step",
    epoch: p && p.epoch > 0 ? p.epoch : null,
    epochTotal: continued ? null : N,
    batch: p && (p.batch > 0 || p.epoch > 0) ? p.batch : null,
    batchTotal: S,
    step: p ? p.step : null,
    fraction,
    progress: continued ? null : p,
  };
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** "3 of 10", "3", "—". */
export function ofTotal(v: number | null, total: number | null): string {
  if (v == null) return "—";
  return total ? `${v} of ${total}` : String(v);
}

// ---- ETA -------------------------------------------------------------------------------------

/** An ETA is shown only from at least this many timings of what it is computed from. */
export const MIN_TIMINGS = 2;

export interface EtaInput {
  status: Status;
  plan: Plan;
  /** Where the run is (liveProgress().progress); null when unknown. */
  progress: Progress | null;
  /** The run's batch kind: `test`/`predict` count the batches of one call, no epochs. */
  kind?: RunKind;
  /** Seconds of the most recent whole epochs, oldest first (validation included). */
  epochSeconds: readonly (number | null)[];
  /** Seconds of the most recent batches of the run's kind, oldest first. */
  batchSeconds: readonly (number | null)[];
  /** Seconds since the newest epoch ended (epoch-only runs count the current epoch down). */
  sinceEpochEnd?: number | null;
}

function meanOfLast(xs: readonly (number | null)[], n: number, min = MIN_TIMINGS): number | null {
  let sum = 0;
  let k = 0;
  for (let i = xs.length - 1; i >= 0 && k < n; i--) {
    const v = xs[i];
    if (v == null || !Number.isFinite(v) || v < 0) continue;
    sum += v;
    k++;
  }
  return k >= min ? sum / k : null;
}

/**
 * Seconds until the run is done, or null when unknown: not running, no plan, or fewer than
 * two timings of what the estimate needs (one timing is often the first, slow batch: an ETA
 * of "2 s" that becomes 34 s a moment later is worse than "—").
 *
 * A fit: the rest of this epoch costs (steps − batch) × seconds per batch (mean of the last
 * 50); each later epoch the mean of the last 5 epochs (which includes validation), or steps
 * × seconds per batch before two epochs have ended. Evaluate/predict: the call's remaining
 * batches × seconds per batch.
 */
export function estimateEta(i: EtaInput): number | null {
  if (i.status !== "running" && i.status !== "stalled") return null;
  const p = i.progress;
  if (!p) return null;
  const steps = positive(i.plan.steps);
  const perBatch = meanOfLast(i.batchSeconds, 50);
  if (i.kind === "test" || i.kind === "predict") {
    if (!steps || perBatch == null) return null;
    return Math.max(0, (steps - Math.min(p.batch, steps)) * perBatch);
  }
  const epochs = positive(i.plan.epochs);
  if (epochs == null) return null;
  if (p.epoch > epochs) return null; // numbers continue an earlier fit's: position unknown
  const perEpoch = meanOfLast(i.epochSeconds, 5);
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
  if (steps && perBatch != null) {
    rest = (steps - batch) * perBatch;
  } else if (perEpoch != null) {
    if (steps && batch > 0) rest = perEpoch * (1 - batch / steps);
    else if (i.sinceEpochEnd != null && Number.isFinite(i.sinceEpochEnd)) rest = Math.max(0, perEpoch - i.sinceEpochEnd);
    else rest = steps ? perEpoch : perEpoch / 2; // no step plan: half an epoch on average
  } else {
    rest = null;
  }
  const later = laterEpochs === 0 ? 0 : (perEpoch ?? (steps && perBatch != null ? steps * perBatch : null));
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
