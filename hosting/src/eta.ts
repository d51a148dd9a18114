/** The ETA of a run from its plan, progress and recent timings. Pure: `now` is passed in. */
import type { RunKind } from "./kinds";
import type { Plan, Progress, Status } from "./status";

export const positive = (v: number | null | undefined): number | null =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;

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
  /**
   * Steps and end times (Unix seconds) of the most recent batch points, oldest first: the wall
   * time between batches includes the input pipeline, which `batchSeconds` (time inside a
   * batch) leaves out.
   */
  batchSteps?: readonly (number | null)[];
  batchTimes?: readonly (number | null)[];
  /** Seconds since the newest batch point: the ETA counts down between arrivals. */
  sincePoint?: number | null;
}

/**
 * Wall seconds per step from consecutive batch points (the median of their rates: an epoch's
 * validation between two points, or a pause, does not pull it), or null with fewer than
 * MIN_TIMINGS of them.
 */
export function wallPerStep(steps: readonly (number | null)[], times: readonly (number | null)[]): number | null {
  const rates: number[] = [];
  for (let i = 1; i < Math.min(steps.length, times.length); i++) {
    const s0 = steps[i - 1], s1 = steps[i], t0 = times[i - 1], t1 = times[i];
    if (s0 == null || s1 == null || t0 == null || t1 == null || !(s1 > s0) || !(t1 >= t0)) continue;
    rates.push((t1 - t0) / (s1 - s0));
  }
  if (rates.length < MIN_TIMINGS) return null;
  rates.sort((a, b) => a - b);
  const m = rates.length >> 1;
  return rates.length % 2 ? rates[m] : (rates[m - 1] + rates[m]) / 2;
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
  // A stalled run may be dead: no time is promised for it.
  if (i.status !== "running") return null;
  const p = i.progress;
  if (!p) return null;
  const steps = positive(i.plan.steps);
  const wall = wallPerStep(i.batchSteps ?? [], i.batchTimes ?? []);
  const perBatch = wall ?? meanOfLast(i.batchSeconds, 50);
  // Counted down from the newest point's arrival, then held (never below the next batch's start).
  const since = wall != null && i.sincePoint != null && Number.isFinite(i.sincePoint) ? Math.max(0, i.sincePoint) : 0;
  if (i.kind === "test" || i.kind === "predict") {
    if (!steps || perBatch == null) return null;
    return Math.max(0, (steps - Math.min(p.batch, steps)) * perBatch - since);
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
    rest = Math.max(0, (steps - batch) * perBatch - since);
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
