import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { unpackChunk, unpackColumn } from "../src/packed";

// Columns packed by the writer (tfwatcher/base/packed.py), made by tests/fixtures/make_packed.py;
// tests/base/test_packed.py checks the writer still packs these very bytes.
interface Case { name: string; codec: string; n: number; bytes: string; values: (number | string | null)[] }
const cases: Case[] = JSON.parse(readFileSync(new URL("../../tests/fixtures/packed.json", import.meta.url), "utf8"));
const bytes = (b64: string) => Uint8Array.from(Buffer.from(b64, "base64"));
const num = (v: number | string | null): number | null => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : (v as number | null));
/** Firestore's Bytes as the SDK hands it over (only toUint8Array is used). */
const fsBytes = (b64: string) => ({ toUint8Array: () => bytes(b64) });

describe("packed columns", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s decodes to what the writer packed", (_name, c) => {
    const got = unpackColumn(fsBytes(c.bytes), c.n) as (number | null)[];
    expect(got).toHaveLength(c.values.length);
    c.values.forEach((v, i) => {
      const want = num(v);
      if (want == null) expect(got[i]).toBeNull();
      else if (Number.isNaN(want)) expect(got[i]).toBeNaN();
      else if (c.codec === "times") expect(Math.abs((got[i] as number) - want)).toBeLessThanOrEqual(0.0005);
      else expect(got[i]).toBe(want);
    });
  });

  it("a whole chunk: packed columns become arrays, array chunks stay as they are", () => {
    const byName = Object.fromEntries(cases.map((c) => [c.name, c]));
    const doc = {
      n: 5, index: 0, kind: "train",
      step: fsBytes(byName["ints: a range"].bytes), epoch: fsBytes(byName["ints: a range"].bytes),
      series: [{ name: "loss", values: fsBytes(byName["floats: non-finite and missing"].bytes) }],
    };
    const out = unpackChunk(doc);
    expect(out.step).toEqual([3, 4, 5, 6, 7]);
    expect((out.series as { values: unknown[] }[])[0].values.slice(2)).toEqual([-Infinity, null, 1.5]);
    const old = { n: 1, step: [1], series: [{ name: "loss", values: [0.5] }] };
    expect(unpackChunk(old)).toBe(old);
  });

  it("a hostile chunk cannot make the page allocate or read past its bytes", () => {
    const range = bytes(cases.find((c) => c.name === "ints: a range")!.bytes);
    expect((unpackChunk({ n: 1e12, step: range }).step as number[]).length).toBe(300_000);
    const f64 = bytes(cases.find((c) => c.name === "floats: float64 needed")!.bytes);
    expect(unpackColumn(f64, 50)).toHaveLength(2);               // n larger than the bytes hold
    expect(unpackColumn(Uint8Array.of(99, 1, 2, 3), 3)).toEqual([]); // unknown tag
    expect(unpackColumn(Uint8Array.of(5, 1), 3)).toEqual([]);        // a cut range
    expect(unpackColumn(Uint8Array.of(0x86, 0), 3)).toEqual([]);     // a cut time base
    expect(unpackColumn(Uint8Array.of(0x88, 0), 3)).toEqual([]);     // a cut time base (2-byte steps)
    expect(unpackColumn(Uint8Array.of(10, 1, 2), 3)).toEqual([]);    // a cut constant
    expect(unpackChunk({ n: -3, step: range }).step).toEqual([]);
  });
});
