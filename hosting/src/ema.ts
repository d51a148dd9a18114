/**
 * Exponential moving average with TensorBoard's debiasing (pure):
 * `s_t = w·s_{t-1} + (1-w)·x_t`, shown as `s_t / (1 - w^t)`, where t counts the values taken
 * so far. Gaps (null, NaN, ±Inf) stay gaps and do not advance t, so a gap does not pull the
 * curve towards zero.
 */
import type { Num } from "./series";

export const SMOOTH_MAX = 0.99;

/** Smoothed copy of `values`; `out` is reused when given (same length afterwards). */
export function ema(values: readonly Num[], weight: number, out: Num[] = []): Num[] {
  const w = Math.min(Math.max(Number.isFinite(weight) ? weight : 0, 0), SMOOTH_MAX);
  out.length = values.length;
  let acc = 0;
  let t = 0;
  let debias = 1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x == null || !Number.isFinite(x)) {
      out[i] = null;
      continue;
    }
    if (w === 0) {
      out[i] = x;
      continue;
    }
    acc = acc * w + (1 - w) * x;
    t++;
    debias *= w; // w^t, kept as a running product
    out[i] = acc / (1 - debias);
  }
  return out;
}
