import { describe, expect, it } from "vitest";
import { CSV_FIXED, csvField, csvFileName, csvNumber, parseCsv, sessionCsv } from "../src/csv";
import type { ChunkDoc, EpochDoc } from "../src/series";

const odd = 'val/acc, "top 5"\nline2';

const epochs: [string, EpochDoc][] = [
  ["000002", { kind: "train", epoch: 2, step: 20, names: ["loss", odd], values: [0.25, NaN], seconds: 1.5, avg_seconds: 1.25, time: 1700000002.123456 }],
  ["000001", { kind: "train", epoch: 1, step: 10, names: ["loss"], values: [0.5], seconds: 1, avg_seconds: 1, time: 1700000001 }],
  ["evaluate-000001", { kind: "evaluate", epoch: 1, step: 20, names: ["loss"], values: [Infinity], seconds: 0.3, avg_seconds: 0.3, time: 1700000003 }],
];
const chunks: [string, ChunkDoc][] = [
  ["test-000000", { kind: "test", index: 0, n: 2, step: [1, 2], epoch: [1, 1], batch: [1, 2], seconds: [0.01, 0.02], time: [5, 6], series: [{ name: "loss", values: [-Infinity, 0.1] }] }],
  ["train-000001", { kind: "train", index: 1, n: 1, step: [3], epoch: [1], batch: [3], seconds: [0.1], time: [3], series: [{ name: "loss", values: [0.3] }, { name: "ünïcode", values: [7] }] }],
  ["train-000000", {
    kind: "train", index: 0, n: 2, step: [1, 2, 99], epoch: [1, 1, 1], batch: [1, 2, 3], seconds: [0.1, 0.123456789012345], time: [1, 2],
    series: [{ name: "loss", values: [1e-300, null] }, { name: odd, values: [0.1 + 0.2, 5] }],
  }],
  ["system-000000", { kind: "system", index: 0, n: 1, step: [1], epoch: [1], batch: [1], seconds: [null], time: [4], series: [{ name: "cpu_percent", values: [12.5] }] }],
];

describe("sessionCsv", () => {
  const rows = parseCsv(sessionCsv({ epochs, chunks }));
  const header = rows[0];
  const col = (name: string) => header.indexOf(name);

  it("has the fixed columns, then every metric in first-seen order (epochs, then batches)", () => {
    expect(header).toEqual([...CSV_FIXED, "loss", odd, "ünïcode", "cpu_percent"]);
  });

  it("writes one row per epoch document, sorted by ID, then every batch point by kind and chunk index", () => {
    expect(rows.length).toBe(1 + 3 + 2 + 1 + 2 + 1);
    expect(rows.slice(1).map((r) => `${r[0]}:${r[1]}:${r[4]}`)).toEqual([
      "epoch:train:10", "epoch:train:20", "epoch:evaluate:20",
      "batch:train:1", "batch:train:2", "batch:train:3", "batch:test:1", "batch:test:2", "batch:system:1",
    ]);
  });

  it("reads back exactly: the numbers are the stored doubles", () => {
    const e2 = rows[2];
    expect(csvNumber(e2[col("epoch")])).toBe(2);
    expect(csvNumber(e2[col("seconds")])).toBe(1.5);
    expect(csvNumber(e2[col("avg_seconds")])).toBe(1.25);
    expect(csvNumber(e2[col("time")])).toBe(1700000002.123456);
    expect(csvNumber(e2[col("loss")])).toBe(0.25);
    expect(e2[col("batch")]).toBe("");
    const b2 = rows[5];
    expect(csvNumber(b2[col("seconds")])).toBe(0.123456789012345);
    expect(csvNumber(b2[col(odd)])).toBe(5);
    const b1 = rows[4];
    expect(csvNumber(b1[col("loss")])).toBe(1e-300);
    expect(csvNumber(b1[col(odd)])).toBe(0.1 + 0.2);
    expect(b2[col("loss")]).toBe(""); // null: absent
    expect(b1[col("ünïcode")]).toBe(""); // metric not in this chunk
    expect(csvNumber(rows[6][col("ünïcode")])).toBe(7);
    expect(rows[9][col("seconds")]).toBe(""); // system points have no seconds
  });

  it("writes NaN and ±Inf as nan, inf, -inf", () => {
    expect(rows[2][col(odd)]).toBe("nan");
    expect(rows[3][col("loss")]).toBe("inf");
    expect(rows[7][col("loss")]).toBe("-inf");
    expect(csvNumber("nan")).toBeNaN();
    expect(csvNumber("-inf")).toBe(-Infinity);
  });

  it("keeps only n points of a chunk (a longer step array is not read past n)", () => {
    expect(rows.filter((r) => r[0] === "batch" && r[1] === "train").map((r) => r[4])).toEqual(["1", "2", "3"]);
  });

  it("quotes names with commas, quotes and newlines (RFC 4180)", () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\rx")).toBe('"cr\rx"');
    expect(csvField("plain name")).toBe("plain name");
    expect(csvField(null)).toBe("");
    const text = sessionCsv({ epochs: [], chunks: [] });
    expect(text).toBe(CSV_FIXED.join(",") + "\r\n");
    const raw = sessionCsv({ epochs, chunks });
    expect(raw.split("\r\n")[0]).toBe(`${CSV_FIXED.join(",")},loss,"val/acc, ""top 5""\nline2",ünïcode,cpu_percent`);
  });

  it("a 10,000-character name and 500 metrics are just columns", () => {
    const long = "m".repeat(10_000);
    const names = [long, ...Array.from({ length: 499 }, (_, i) => `metric_${i}`)];
    const c: [string, ChunkDoc][] = [["train-000000", { kind: "train", index: 0, n: 1, step: [1], epoch: [1], batch: [1], seconds: [1], time: [1], series: names.map((name, i) => ({ name, values: [i] })) }]];
    const r = parseCsv(sessionCsv({ epochs: [], chunks: c }));
    expect(r[0].length).toBe(CSV_FIXED.length + 500);
    expect(r[0][CSV_FIXED.length]).toBe(long);
    expect(csvNumber(r[1][CSV_FIXED.length + 499])).toBe(499);
  });

  it("names the file after the session", () => {
    expect(csvFileName("x7kq2m9hfw4cpd3ntr")).toBe("tfwatcher-x7kq2m9hfw4cpd3ntr.csv");
  });
});
