import { describe, expect, it } from "vitest";
import { ema } from "../src/ema";

/** TensorBoard's smoothing, written out as in its scalar dashboard, for comparison. */
function tensorboard(values: number[], w: number): number[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    last = last * w + (1 - w) * v;
    n++;
    return w === 1 ? last : last / (1 - Math.pow(w, n));
  });
}

describe("ema", () => {
  it("is the identity at weight 0", () => {
    expect(ema([1, 2, null, 4], 0)).toEqual([1, 2, null, 4]);
  });

  it("matches TensorBoard's debiased EMA", () => {
    const xs = Array.from({ length: 50 }, (_, i) => Math.sin(i / 3) + i / 10);
    for (const w of [0.3, 0.6, 0.9, 0.99]) {
      const got = ema(xs, w);
      tensorboard(xs, w).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 10));
    }
  });

  it("starts at the first value (debiased, not pulled towards zero)", () => {
    expect(ema([10, 10, 10], 0.9)).toEqual([10, 10, 10].map(() => expect.closeTo(10, 10)));
  });

  it("skips gaps: null and non-finite values stay gaps and do not count", () => {
    const got = ema([1, null, NaN, Infinity, 3], 0.5);
    expect(got[1]).toBeNull();
    expect(got[2]).toBeNull();
    expect(got[3]).toBeNull();
    // same as smoothing [1, 3]
    expect(got[4]).toBeCloseTo(tensorboard([1, 3], 0.5)[1], 12);
    expect(got[0]).toBe(1);
  });

  it("clamps the weight to 0..0.99 and reuses the output array", () => {
    const out: (number | null)[] = [9, 9, 9, 9, 9];
    const r = ema([1, 2], 5, out);
    expect(r).toBe(out);
    expect(r.length).toBe(2);
    expect(r[1]).toBeCloseTo(tensorboard([1, 2], 0.99)[1], 12);
    expect(ema([1, 2], -1)).toEqual([1, 2]);
  });

  it("smooths a step change gradually", () => {
    const got = ema([0, 0, 0, 1, 1, 1], 0.5) as number[];
    expect(got[3]).toBeGreaterThan(0);
    expect(got[3]).toBeLessThan(1);
    expect(got[5]).toBeGreaterThan(got[4]);
  });
});
