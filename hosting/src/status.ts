/** Session status, progress, ETA and time formatting. Pure functions: `now` is passed in. */

import { ENDED_STATUSES, HEARTBEAT_FIELD, SCHEMA, STALL_SHOWN_AFTER_MS, stallAfterMs } from "./contract";
import { LEGACY_SCHEMA, runKind, type RunKind } from "./kinds";
import { visibleLines, visibleText } from "./visible";
export { LEGACY_SCHEMA, SYSTEM_KIND, runKind, type RunKind } from "./kinds";

import { positive } from "./eta";
export { estimateEta, fractionDone, MIN_TIMINGS, type EtaInput } from "./eta";
export { formatAge, formatConfigValue, formatDuration, formatValue } from "./format";

/** A running session whose newest sign of life is older than this is shown as stalled. */
export const STALL_MS = STALL_SHOWN_AFTER_MS;

/** The newest schema this dashboard reads (the contract's). */
export const SCHEMA_VERSION = SCHEMA;

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
  /** The heartbeat period (s) the writer declares (`heartbeat_every`); null from older writers. */
  heartbeatEvery?: number | null;
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
    schema: int(d.schema) ?? LEGACY_SCHEMA,
    status: str(d.status) || "unknown",
    mode: str(d.mode),
    name: visibleText(str(d.name)),
    createdMs: toMs(d.created),
    heartbeatMs: toMs(d.heartbeat),
    heartbeatEvery: int(d[HEARTBEAT_FIELD]),
    endedMs: toMs(d.ended),
    plan: { epochs: int(plan.epochs), steps: int(plan.steps), firstEpoch: int(plan.first_epoch) },
    progress:
      progress && typeof progress === "object"
        ? { epoch: int(progress.epoch) ?? 0, batch: int(progress.batch) ?? 0, step: int(progress.step) ?? 0 }
        : null,
    metrics: Array.isArray(d.metrics) ? d.metrics.filter((m): m is string => typeof m === "string") : [],
    latest: latest
      .filter((l): l is Record<string, unknown> => !!l && typeof l === "object" && typeof l.name === "string")
      .map((l) => ({ name: visibleText(l.name as string), value: typeof l.value === "number" ? l.value : null })),
    error:
      error && typeof error === "object"
        ? { type: visibleText(str(error.type) || "Error"), message: visibleLines(str(error.message)) }
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
      name: visibleText((e as { name: string }).name),
      value:
        typeof value === "string"
          ? visibleText(value)
          : typeof value === "number" || typeof value === "boolean"
            ? value
            : value == null
              ? null
              : visibleText(jsonText(value)),
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
/** How long a running session may be silent before it is shown stalled: 3 of its declared
 * heartbeat periods, never less than the contract's floor (a run with heartbeat=180 is not
 * "stalled" between heartbeats). */
export function stallThresholdMs(info: Pick<SessionInfo, "heartbeatEvery">): number {
  return stallAfterMs(info.heartbeatEvery);
}

export function effectiveStatus(
  stored: string,
  lastActivity: number | null,
  nowMs: number,
  thresholdMs = STALL_MS,
): Status {
  if (stored === "running") {
    if (lastActivity != null && nowMs - lastActivity > thresholdMs) return "stalled";
    return "running";
  }
  // Ended, or already marked stalled by the server's sweep; anything else (`new`) is unknown.
  if (ENDED_STATUSES.includes(stored) || stored === "stalled") return stored as Status;
  return "unknown";
}

// ---- progress from the newest data ---------------------------------------------------------


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
  /** Labels of the two progress facts: "Epoch"/"Batch of epoch", or "Evaluate"/"Batch", "Predict"/"Batch". */
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
    if (p != null && ne.epoch === p.epoch && st === p.step && p.batch > 0) {
      // The epoch ended at the batch we know of: a stopped fit's last epoch ends early
      // ("batch 1 of 125", not "125 of 125").
    } else if (p == null || ne.epoch > p.epoch || (ne.epoch === p.epoch && st >= p.step)) {
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
    // The batch within the epoch (out of the plan's steps per epoch), not the global step.
    stepLabel: "Batch of epoch",
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

export const STATUS_LABEL: Record<Status, string> = {
  running: "Running",
  finished: "Finished",
  crashed: "Crashed",
  stopped: "Stopped",
  stalled: "Stalled",
  unknown: "Unknown",
};
