import { describe, expect, test } from "vitest";
import { currentRun } from "../src/views/controls";

describe("currentRun (which control/stop-{run} the Stop button creates)", () => {
  test("the session document's run, a positive integer", () => {
    expect(currentRun({ run: 1, status: "running" })).toBe(1);
    expect(currentRun({ run: 7 })).toBe(7);
  });

  test("null for a session from an older writer (no run) or a malformed run: Stop is unavailable", () => {
    for (const s of [{}, { run: 0 }, { run: -1 }, { run: 1.5 }, { run: "2" }, { run: null }, null, undefined]) {
      expect(currentRun(s as Record<string, unknown> | null | undefined)).toBeNull();
    }
  });
});
