import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ATTENTION } from "../src/contract";
import { watchVisibility } from "../src/visibility";
import { FakeDoc } from "./fakes";

const AFTER = ATTENTION.hidden_detach_seconds * 1000;

describe("watchVisibility", () => {
  let doc: FakeDoc;
  let calls: string[];
  const start = () => watchVisibility(doc, AFTER, () => calls.push("detach"), () => calls.push("attach"));
  beforeEach(() => {
    vi.useFakeTimers();
    doc = new FakeDoc();
    calls = [];
  });
  afterEach(() => vi.useRealTimers());

  it("uses the contract's 30 s", () => {
    expect(AFTER).toBe(30_000);
  });

  it("a hide of 29 s changes nothing", () => {
    const w = start();
    doc.set("hidden");
    vi.advanceTimersByTime(29_000);
    doc.set("visible");
    vi.advanceTimersByTime(120_000);
    expect(calls).toEqual([]);
    expect(w.detached).toBe(false);
  });

  it("a hide of 31 s detaches once; showing attaches once", () => {
    const w = start();
    doc.set("hidden");
    vi.advanceTimersByTime(31_000);
    expect(calls).toEqual(["detach"]);
    expect(w.detached).toBe(true);
    vi.advanceTimersByTime(3_600_000);
    doc.set("hidden"); // a repeated event while hidden
    vi.advanceTimersByTime(60_000);
    expect(calls).toEqual(["detach"]);
    doc.set("visible");
    doc.set("visible");
    expect(calls).toEqual(["detach", "attach"]);
    expect(w.detached).toBe(false);
  });

  it("flapping restarts the countdown; each detach gets exactly one attach", () => {
    start();
    for (let i = 0; i < 10; i++) {
      doc.set("hidden");
      vi.advanceTimersByTime(20_000);
      doc.set("visible");
      vi.advanceTimersByTime(1_000);
    }
    expect(calls).toEqual([]);
    doc.set("hidden");
    vi.advanceTimersByTime(30_000);
    doc.set("visible");
    doc.set("hidden");
    vi.advanceTimersByTime(29_999);
    doc.set("visible");
    doc.set("hidden");
    vi.advanceTimersByTime(30_001);
    doc.set("visible");
    expect(calls).toEqual(["detach", "attach", "detach", "attach"]);
  });

  it("a page opened hidden starts its countdown at once", () => {
    doc.visibilityState = "hidden";
    start();
    vi.advanceTimersByTime(AFTER);
    expect(calls).toEqual(["detach"]);
  });

  it("stop() removes the listener and cancels a pending detach", () => {
    const w = start();
    doc.set("hidden");
    vi.advanceTimersByTime(10_000);
    w.stop();
    expect(doc.listeners).toBe(0);
    vi.advanceTimersByTime(60_000);
    doc.set("visible");
    expect(calls).toEqual([]);
  });
});
