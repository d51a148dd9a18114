// Issue 20: text a session's writer controls is untrusted wherever the dashboard saves or
// shows it: spreadsheet formulas in the CSV, control and bidi override characters on screen.
import { describe, expect, it } from "vitest";
import { csvField, csvNumber, parseCsv, sessionCsv } from "../src/csv";
import { parseSession } from "../src/status";
import { visibleLines, visibleText } from "../src/visible";

const HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "a\r\nb", "x,\"y\"", "loss\u202etxt.exe", "ok"];

describe("CSV formula neutralisation", () => {
  it("text cells starting with = + - @ tab CR get a leading ' (numbers, negative ones too, stay numbers)", () => {
    expect(csvField("=1+2")).toBe("'=1+2");
    expect(csvField("-x")).toBe("'-x");
    expect(csvField("@a")).toBe("'@a");
    expect(csvField("\tx")).toBe("'\tx");
    expect(csvField("\rx")).toBe("\"'\rx\"");
    expect(csvField(-0.5)).toBe("-0.5");
    expect(csvField(-Infinity)).toBe("-inf");
    expect(csvField("loss")).toBe("loss");
    expect(csvField("=1", { raw: true })).toBe("=1");
  });
  it("hostile metric names round-trip: one header cell each, neutralised; raw gives them back as stored", () => {
    const src = {
      epochs: [["000001", { kind: "train", epoch: 1, step: 3, names: HOSTILE, values: HOSTILE.map((_, i) => -i - 0.5) }] as const],
      chunks: [["train-000000", { kind: "train", index: 0, n: 1, step: [1], series: HOSTILE.map((name) => ({ name, values: [-1] })) }] as const],
    };
    for (const raw of [false, true]) {
      const rows = parseCsv(sessionCsv(src, { raw }));
      expect(rows.length).toBe(3); // header, one epoch row, one batch row: no name split a line
      const names = rows[0].slice(8);
      expect(names).toEqual(HOSTILE.map((n) => (!raw && /^[=+\-@\t\r]/.test(n) ? `'${n}` : n)));
      expect(rows[1].slice(8).map(csvNumber)).toEqual(HOSTILE.map((_, i) => -i - 0.5));
      expect(rows[2].slice(8).map(csvNumber)).toEqual(HOSTILE.map(() => -1));
    }
  });
});

describe("visible control characters", () => {
  it("C0, DEL, C1 and bidi overrides/isolates become ⟨U+XXXX⟩", () => {
    expect(visibleText("loss\u202etxt.exe")).toBe("loss⟨U+202E⟩txt.exe");
    expect(visibleText("a\u0000b\u001bc\u007fd\u0085e")).toBe("a⟨U+0000⟩b⟨U+001B⟩c⟨U+007F⟩d⟨U+0085⟩e");
    expect(visibleText("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069")).toBe(
      "⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩",
    );
    expect(visibleText("a\nb\tc")).toBe("a⟨U+000A⟩b⟨U+0009⟩c");
    expect(visibleLines("a\nb\tc\u202e")).toBe("a\nb\tc⟨U+202E⟩");
    expect(visibleText("ünïcode ✓ 日本")).toBe("ünïcode ✓ 日本");
    expect(visibleText(visibleText("x\u202e"))).toBe("x⟨U+202E⟩");
  });
  it("the session's name, metric names, config and error are shown with them visible", () => {
    const info = parseSession({
      name: "run\u202egnp.exe",
      latest: [{ name: "acc\u0007", value: 1 }],
      config: [{ name: "lr\u2066", value: "x\u001b[2J" }, { name: "n", value: 3 }],
      error: { type: "Value\u202eError", message: "line 1\nline\u00852" },
    });
    expect(info.name).toBe("run⟨U+202E⟩gnp.exe");
    expect(info.latest[0].name).toBe("acc⟨U+0007⟩");
    expect(info.config).toEqual([{ name: "lr⟨U+2066⟩", value: "x⟨U+001B⟩[2J" }, { name: "n", value: 3 }]);
    expect(info.error).toEqual({ type: "Value⟨U+202E⟩Error", message: "line 1\nline⟨U+0085⟩2" });
  });
});
