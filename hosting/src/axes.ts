/** Chart order and x axes: which chart comes first, steps as epochs, a zoom range between axes. */
import type { MetricGroup } from "./metric-groups";
import type { Num } from "./series";
import { upper } from "./summary-ranges";

/** Loss charts first (title contains "loss"; plain "loss" leading), then the rest A→Z. */
export function orderGroups<G extends Pick<MetricGroup, "title">>(groups: readonly G[]): G[] {
  const rank = (t: string) => (t.toLowerCase() === "loss" ? 0 : t.toLowerCase().includes("loss") ? 1 : 2);
  return [...groups].sort((x, y) => rank(x.title) - rank(y.title) || (x.title < y.title ? -1 : x.title > y.title ? 1 : 0));
}

/**
 * Global steps → fractional epochs from the epoch ends (`step` of each train epoch, by epoch):
 * a step in epoch e maps into (e-1, e]. After the last finished epoch, `stepsPerEpoch` (the
 * plan, else the last epoch's length) continues the scale.
 */
export function stepsToEpochs(steps: readonly Num[], ends: readonly { epoch: number; step: number }[], stepsPerEpoch: number | null): Num[] {
  const e = ends.filter((x) => Number.isFinite(x.step)).sort((x, y) => x.epoch - y.epoch);
  const lastLen = e.length >= 2 ? e[e.length - 1].step - e[e.length - 2].step : e.length === 1 ? e[0].step : null;
  const per = stepsPerEpoch && stepsPerEpoch > 0 ? stepsPerEpoch : lastLen && lastLen > 0 ? lastLen : null;
  return steps.map((s) => {
    if (s == null) return null;
    const k = upper(e, (x) => x.step < s); // first epoch whose end ≥ s
    if (k < e.length) {
      const prevStep = k > 0 ? e[k - 1].step : 0;
      const prevEpoch = k > 0 ? e[k - 1].epoch : e[k].epoch - 1;
      const span = e[k].step - prevStep;
      return span > 0 ? prevEpoch + ((s - prevStep) / span) * (e[k].epoch - prevEpoch) : e[k].epoch;
    }
    if (!per) return null;
    const base = e.length ? e[e.length - 1] : { epoch: 0, step: 0 };
    return base.epoch + (s - base.step) / per;
  });
}

/** Index range [i, j) of a sorted x array inside [a, b] (for mapping a zoom between axes). */
export function indexRange(x: readonly Num[], a: number, b: number): [number, number] {
  const i = upper(x, (v) => v == null || v < a);
  const j = upper(x, (v) => v == null || v <= b);
  return [i, j];
}
