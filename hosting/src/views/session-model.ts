/**
 * What the session page shows, worked out without the DOM: which view (epochs or batches)
 * and batch kind, the status card's texts, the x values of a chart table and how a zoom range
 * maps to steps. The page (views/session.ts) and its panels only write these to elements;
 * test/session-model.test.ts covers them.
 */
import type { XMode } from "../charts";
import type { EpochDoc, KindSeries, Num, Table } from "../series";
import {
  STATUS_LABEL,
  SYSTEM_KIND,
  effectiveStatus,
  stallThresholdMs,
  estimateEta,
  formatAge,
  formatDuration,
  formatValue,
  lastActivityMs,
  liveProgress,
  ofTotal,
  runKind,
  type NewestBatch,
  type NewestEpoch,
  type SessionInfo,
  type Status,
} from "../status";
import { indexRange, stepsToEpochs } from "../summaries";
import { visibleText } from "../visible";

export type ViewKind = "epochs" | "batches";

const TRAIN = runKind("fit");

/**
 * Batch kinds that have points, in the order the feed reported them. A kind picked on this
 * page stays while its feed is still reading it (the system tab's chunks are read only once it
 * is picked: until they arrive it has no points, and must not vanish with its tab).
 */
export function kindsWithPoints(kinds: ReadonlyMap<string, KindSeries>, picked: string | null = null): string[] {
  return [...kinds.entries()].filter(([k, s]) => s.pointCount > 0 || k === picked).map(([k]) => k);
}

export interface ViewInput {
  /** Batch kinds with points. */
  kinds: readonly string[];
  /** The session document's progress batch (train batches logged before their chunks arrive). */
  progressBatch: number;
  /** The view remembered (from any session) and the one picked on this page. */
  chosenView: ViewKind | null;
  chosenHere: ViewKind | null;
  /** Train epochs in the epoch table. */
  trainEpochs: number;
}

export interface ViewChoice {
  view: ViewKind;
  /** The Batches tab: shown at all, and its label ("System" where system metrics are the only batch kind). */
  batchTab: boolean;
  batchLabel: "Batches" | "System";
}

/**
 * Epoch-only sessions (no batch points of any kind) have no Batches tab, and a "Batches"
 * choice remembered from another session does not apply to them. Where system metrics are
 * the only batch kind, the tab is called System and the view opens on the epochs unless
 * System was picked on this page. Otherwise the choice, else batches until two epochs ended.
 */
export function chooseView(i: ViewInput): ViewChoice {
  const trainingBatches = i.kinds.some((k) => k !== SYSTEM_KIND) || i.progressBatch > 0;
  const anyBatches = trainingBatches || i.kinds.length > 0;
  const tab = { batchTab: anyBatches, batchLabel: trainingBatches ? ("Batches" as const) : ("System" as const) };
  if (!anyBatches) return { view: "epochs", ...tab };
  if (!trainingBatches) return { view: i.chosenHere === "batches" ? "batches" : "epochs", ...tab };
  if (i.chosenView) return { view: i.chosenView, ...tab };
  return { view: i.trainEpochs >= 2 ? "epochs" : "batches", ...tab };
}

/**
 * The batch kind shown: the one picked on this page while it has points; else train first,
 * another kind only while train has none, system metrics only when nothing else is there.
 */
export function chooseBatchKind(kinds: readonly string[], current: string | null, picked: boolean): string {
  if (picked && current && kinds.includes(current)) return current;
  return kinds.includes(TRAIN) ? TRAIN : (kinds.find((k) => k !== SYSTEM_KIND) ?? kinds[0] ?? TRAIN);
}

/** The status shown (stalled when a running session went quiet) and the newest sign of life. */
export function currentStatus(
  info: SessionInfo, epochTable: Table | null, kinds: Iterable<KindSeries>, now: number,
): { status: Status; last: number | null } {
  const lastEpoch = epochTable && epochTable.time.length ? epochTable.time[epochTable.time.length - 1] : null;
  let lastBatch: number | null = null;
  for (const s of kinds) {
    const t = s.table.time;
    const v = t.length ? t[t.length - 1] : null;
    if (v != null && (lastBatch == null || v > lastBatch)) lastBatch = v;
  }
  const last = lastActivityMs(info.heartbeatMs, lastEpoch, lastBatch);
  return { status: effectiveStatus(info.status, last, now, stallThresholdMs(info)), last };
}

/** What the status card needs of the epoch documents (worked out once per change of them). */
export interface EpochFacts {
  version: number;
  newest: NewestEpoch | null;
  /** Seconds of the last five train epochs, oldest first. */
  seconds: (number | null)[];
  /** Newest end time of any epoch document (Unix seconds). */
  lastTime: number | null;
}

export function epochFacts(epochs: Iterable<EpochDoc>, version: number): EpochFacts {
  const train = new Map<number, { step: number | null; time: number | null; seconds: number | null }>();
  let lastTime: number | null = null;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  for (const e of epochs) {
    const t = num(e.time);
    if (t != null && (lastTime == null || t > lastTime)) lastTime = t;
    if ((e.kind ?? TRAIN) !== TRAIN || typeof e.epoch !== "number") continue;
    train.set(e.epoch, { step: num(e.step), time: t, seconds: num(e.seconds) });
  }
  const order = [...train.keys()].sort((a, b) => a - b);
  const top = order.length ? order[order.length - 1] : null;
  return {
    version,
    newest: top == null ? null : { epoch: top, step: train.get(top)!.step, time: train.get(top)!.time },
    seconds: order.slice(-5).map((e) => train.get(e)!.seconds),
    lastTime,
  };
}

/**
 * The newest point of a batch kind: the reader's own (with epoch and batch), else the last row
 * of its table (x = step); liveProgress counts on from the session document's progress.
 */
export function newestPoint(series: KindSeries | undefined): NewestBatch | null {
  const raw = series?.newest?.();
  if (raw) return raw;
  const t = series?.table;
  if (!t || !t.x.length) return null;
  const i = t.x.length - 1;
  const step = t.x[i];
  return typeof step === "number" ? { step, time: t.time[i] ?? null } : null;
}

/** The status card's texts. */
export interface StatusCard {
  status: Status;
  label: string;
  /** Some value went NaN/Inf (the label says so). */
  nan: boolean;
  /** The error line: the crash, or how long a stalled run has been quiet; null hides it. */
  error: string | null;
  epochLabel: string;
  stepLabel: string;
  epoch: string;
  step: string;
  /** Progress bar, percent with one decimal. */
  pct: number;
  elapsed: string;
  eta: string;
  age: string;
}

export function statusCard(info: SessionInfo, epochTable: Table | null, kinds: ReadonlyMap<string, KindSeries>, ep: EpochFacts, now: number): StatusCard {
  const { status, last } = currentStatus(info, epochTable, kinds.values(), now);
  let error: string | null = null;
  if (status === "crashed" && info.error) error = `${info.error.type}: ${info.error.message}`;
  else if (status === "stalled") {
    error = `No update for ${formatAge(last == null ? null : now - last).replace(" ago", "")}: the training process may have died or lost its network.`;
  }
  // Progress from the newest data (epoch rows, batch points), not only the heartbeat.
  const kind = runKind(info.mode);
  const train = kind === TRAIN;
  const point = newestPoint(kinds.get(kind));
  // evaluate/predict: a point older than the newest epoch record or train point is an earlier run's.
  const trainPoint = train ? null : newestPoint(kinds.get(TRAIN));
  const since = train ? null : Math.max(ep.lastTime ?? -Infinity, trainPoint?.time ?? -Infinity);
  const live = liveProgress(info, train ? ep.newest : null, point, since != null && Number.isFinite(since) ? since : null);
  const pct = status === "finished" ? 100 : live.fraction == null ? 0 : Math.round(live.fraction * 1000) / 10;
  const end = info.endedMs ?? (status === "running" || status === "stalled" ? now : last);
  const kindBatches = kinds.get(kind);
  const bt = kindBatches?.table;
  const eta = estimateEta({
    status,
    plan: info.plan,
    progress: live.progress,
    kind,
    epochSeconds: train ? ep.seconds : [],
    batchSeconds: bt ? bt.seconds.slice(-50) : [],
    batchSteps: bt ? bt.x.slice(-51) : [],
    batchTimes: bt ? bt.time.slice(-51) : [],
    sincePoint: point?.time != null ? now / 1000 - point.time : null,
    sinceEpochEnd: ep.newest?.time != null ? now / 1000 - ep.newest.time : null,
  });
  const nan = info.nan || (epochTable?.nonFinite.size ?? 0) > 0;
  return {
    status,
    // A run whose values went NaN/Inf says so in the pill too: "Finished · NaN".
    label: STATUS_LABEL[status] + (nan ? " · NaN" : ""),
    nan,
    error,
    epochLabel: live.epochLabel,
    stepLabel: live.stepLabel,
    epoch: train ? ofTotal(live.epoch, live.epochTotal) : live.epoch != null ? `#${live.epoch}` : "—",
    step: ofTotal(live.batch, live.batchTotal),
    pct,
    elapsed: info.createdMs != null && end != null ? formatDuration((end - info.createdMs) / 1000) : "—",
    eta: status === "finished" ? "done" : eta == null ? "—" : formatDuration(eta),
    age: formatAge(last == null ? null : now - last),
  };
}

/** The x values of a table for an x axis (batches: x = step; epochs: x = epoch), and the steps under them. */
export function xValues(
  t: Table, view: ViewKind, xMode: XMode, epochTable: Table | null, info: Pick<SessionInfo, "plan" | "createdMs"> | null,
): { x: Num[]; steps: Num[] } {
  const steps = view === "epochs" ? (t.steps ?? t.x) : t.x;
  let x: Num[];
  switch (xMode) {
    case "step":
      x = steps;
      break;
    case "epoch":
      if (view === "epochs") x = t.x;
      else {
        const et = epochTable;
        const ends = et ? et.x.map((e, i) => ({ epoch: e as number, step: (et.steps?.[i] ?? NaN) as number })) : [];
        x = stepsToEpochs(t.x, ends, info?.plan.steps ?? null);
      }
      break;
    case "relative": {
      const first = t.time.find((v) => v != null) ?? 0;
      const t0 = info?.createdMs != null ? Math.min(info.createdMs / 1000, first) : first;
      x = t.time.map((v) => (v == null ? null : v - t0));
      break;
    }
    case "wall":
      x = t.time;
      break;
  }
  // uPlot needs an x for every row, ascending: carry the previous one over gaps.
  if (x !== t.x && x.some((v) => v == null)) {
    let prev = 0;
    x = x.map((v) => (v == null ? prev : (prev = v)));
  }
  return { x, steps };
}

/** The x axis' label under the charts. */
export function xLabel(view: ViewKind, batchKind: string | null, xMode: XMode): string {
  if (xMode === "relative") return "time since start";
  if (xMode === "wall") return "time of day";
  if (xMode === "epoch") return "epoch";
  if (view === "epochs") return "epoch";
  return batchKind === TRAIN ? "step" : `${batchKind} batch`;
}

/** Whether a zoom range is taken: a real range, and not the one already shown (synced charts report the same select). */
export function zoomChanges(current: [number, number] | null, r: [number, number] | null): boolean {
  if (r && !(r[1] > r[0])) return false;
  return !(r && current && r[0] === current[0] && r[1] === current[1]);
}

/** A zoom range in x-axis units as steps, through the x values drawn and the steps under them. */
export function zoomSteps(r: [number, number], xMode: XMode, shownX: readonly Num[], shownSteps: readonly Num[]): [number, number] {
  let [a, b] = r;
  if (xMode !== "step") {
    const [i, j] = indexRange(shownX, a, b);
    a = shownSteps[Math.max(0, i - 1)] ?? a;
    b = shownSteps[Math.min(shownSteps.length - 1, j)] ?? b;
  }
  return [Math.floor(a), Math.ceil(b)];
}

/** Row index from which a metric's gaps are its first non-finite value (NaN/±Inf), and how it reads. */
export function badFrom(t: Table, name: string): { badFrom: number; badText: string } | null {
  const nf = t.nonFinite.get(name);
  if (!nf) return null;
  const i = t.x.findIndex((x) => x >= nf.firstX);
  return i < 0 ? null : { badFrom: i, badText: formatValue(nf.firstValue) };
}

/** A run's last epoch that ended early (a Stop, a crash): fewer batches than planned. */
export interface PartialEpoch {
  epoch: number;
  batches: number;
  of: number;
}

/**
 * The last train epoch, when it has fewer steps than the plan's: Keras ends a stopped fit
 * with such an epoch, whose values come from its few batches only. Only for ended runs.
 */
export function partialEpoch(epochTable: Table | null, info: Pick<SessionInfo, "plan" | "status">): PartialEpoch | null {
  const S = info.plan.steps;
  const t = epochTable;
  if (!t || !S || S <= 0 || info.status === "running" || !t.steps || t.x.length === 0) return null;
  const n = t.x.length - 1;
  const end = t.steps[n];
  const prev = n > 0 ? t.steps[n - 1] : 0;
  if (end == null || prev == null || t.x[n] - (n > 0 ? t.x[n - 1] : 0) !== 1) return null;
  const batches = end - prev;
  return batches > 0 && batches < S ? { epoch: t.x[n], batches, of: S } : null;
}

/**
 * "Latest values": the session document's list (written with the heartbeat), with each
 * value replaced by a newer one from the epoch table or the run's batch table when those
 * are newer than the document, so they agree with the charts.
 */
export function latestValues(info: SessionInfo, epochTable: Table | null, batches: Table | null): { name: string; value: number | null }[] {
  const docTime = info.heartbeatMs != null ? info.heartbeatMs / 1000 : -Infinity;
  const newer = new Map<string, { time: number; value: number | null }>();
  for (const t of [epochTable, batches]) {
    const i = t ? t.x.length - 1 : -1;
    const time = i >= 0 ? t!.time[i] : null;
    if (!t || time == null || time <= docTime) continue;
    for (const [name, vals] of t.metrics) {
      const prev = newer.get(name);
      const bad = t.nonFinite.get(name);
      const v = vals[i] ?? (bad && t.x[i] >= bad.firstX ? bad.firstValue : null);
      if (!prev || time > prev.time) newer.set(name, { time, value: v });
    }
  }
  return info.latest.map((l) => (newer.has(l.name) ? { name: l.name, value: newer.get(l.name)!.value } : l));
}

/** The lines above the charts: values not drawn, a NaN loss, points merged offline, a partial epoch. */
export function noticeLines(table: Table, series: KindSeries | null, view: ViewKind, nan: boolean, partial: PartialEpoch | null = null): string[] {
  const lines: string[] = [];

  for (const [name, nf] of table.nonFinite) {
    const v = formatValue(nf.firstValue);
    lines.push(`${visibleText(name)} was ${v} at ${view === "epochs" ? "epoch" : "step"} ${nf.firstX}${nf.count > 1 ? ` (${nf.count} values not drawn)` : " (not drawn)"}.`);
  }
  if (nan && lines.length === 0) lines.push("A loss value was NaN or infinite.");
  if (series?.thinned) lines.push("Some batch points were merged (min, max and last kept): they could neither be sent nor saved when they were logged.");
  if (partial) {
    lines.push(`Epoch ${partial.epoch} is partial: the run ended after ${partial.batches} of its ${partial.of} batches, so its values are from those batches only.`);
  }
  return lines;
}

/** What an empty chart area says. */
export function emptyChartsText(view: ViewKind, trainPoints: number, batchLabel: string | null): string {
  return view === "epochs" && trainPoints > 0 ? `No epoch has finished yet — see ${batchLabel}.` : "Waiting for the first values…";
}
