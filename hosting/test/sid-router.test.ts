import { describe, expect, it } from "vitest";
import { checkSid } from "../src/sid";
import { ownerKeyFromHash, parseRoute, sessionPath } from "../src/router";

describe("checkSid", () => {
  it("accepts 7 characters of the alphabet, lower-cased and trimmed", () => {
    expect(checkSid("k3m9x2p")).toEqual({ ok: true, sid: "k3m9x2p" });
    expect(checkSid("  K3M9X2P ")).toEqual({ ok: true, sid: "k3m9x2p" });
  });
  it("says what is wrong", () => {
    expect(checkSid("")).toMatchObject({ ok: false, message: expect.stringContaining("Enter") });
    expect(checkSid("k3m9x2")).toMatchObject({ ok: false, message: expect.stringContaining("this one has 6") });
    expect(checkSid("k3m9x2pq")).toMatchObject({ ok: false, message: expect.stringContaining("this one has 8") });
    const r = checkSid("k3m0x2p");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain("“0”");
      expect(r.message).toContain("never use 0, 1, i, l or o");
    }
    expect(checkSid("k3m-x2p")).toMatchObject({ ok: false, message: expect.stringContaining("“-”") });
    expect(checkSid("<script>")).toMatchObject({ ok: false });
  });
});

describe("routes", () => {
  it("parses the app's paths", () => {
    expect(parseRoute("/")).toEqual({ name: "home" });
    expect(parseRoute("/s/k3m9x2p")).toEqual({ name: "session", sid: "k3m9x2p" });
    expect(parseRoute("/s/k3m9x2p/")).toEqual({ name: "session", sid: "k3m9x2p" });
    expect(parseRoute("/s/%3Cb%3E")).toEqual({ name: "session", sid: "<b>" });
    expect(parseRoute("/s/%E0%A4%A")).toEqual({ name: "session", sid: "%E0%A4%A" });
    expect(parseRoute("/logs/k3m9x2p")).toEqual({ name: "redirect", to: "/s/k3m9x2p" });
    expect(parseRoute("/nope")).toEqual({ name: "notFound", path: "/nope" });
    expect(sessionPath("k3m9x2p")).toBe("/s/k3m9x2p");
  });
  it("reads the owner key from the fragment only", () => {
    expect(ownerKeyFromHash("#k=abc_DEF-123")).toBe("abc_DEF-123");
    expect(ownerKeyFromHash("")).toBeNull();
    expect(ownerKeyFromHash("#x=1")).toBeNull();
  });
});
