import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkSid, displaySid, isSid, SID_ALPHABET, SID_LEGACY_LENGTH, SID_LENGTH } from "../src/sid";
import { ownerKeyFromHash, parseRoute, sessionPath } from "../src/router";

// One ID of the current format and one legacy ID, used throughout.
const SID = "x7kq2m9hfw4cpd3ntr";
const GROUPED = "x7kq2m-9hfw4c-pd3ntr";
const LEGACY = "k3m9x2p";

describe("the format comes from the contract, tfwatcher/base/contract.json", () => {
  it("is the same file the Python package reads", () => {
    const file = JSON.parse(readFileSync(new URL("../../tfwatcher/base/contract.json", import.meta.url), "utf8")).session_id;
    expect(SID_ALPHABET).toBe(file.alphabet);
    expect(SID_LENGTH).toBe(file.length);
    expect(SID_LEGACY_LENGTH).toBe(file.legacy_length);
    // >= 80 bits, and the alphabet has none of the look-alikes.
    expect(SID_LENGTH * Math.log2(SID_ALPHABET.length)).toBeGreaterThanOrEqual(80);
    for (const c of "01ilo") expect(SID_ALPHABET).not.toContain(c);
  });
});

describe("checkSid", () => {
  it("accepts 18 characters of the alphabet, and legacy 7-character IDs", () => {
    expect(checkSid(SID)).toEqual({ ok: true, sid: SID });
    expect(checkSid(LEGACY)).toEqual({ ok: true, sid: LEGACY });
    expect(checkSid("  K3M9X2P ")).toEqual({ ok: true, sid: LEGACY });
  });

  it("accepts separators, spaces and any case", () => {
    for (const typed of [
      GROUPED,
      GROUPED.toUpperCase(),
      " x7kq2m 9hfw4c pd3ntr ",
      "X7KQ 2M9H FW4C PD3N TR",
      "x7kq2m–9hfw4c—pd3ntr", // dashes a phone keyboard makes of "-"
      "x7kq2m.9hfw4c_pd3ntr",
      "x7kq2m\t9hfw4c\npd3ntr",
    ]) {
      expect(checkSid(typed), typed).toEqual({ ok: true, sid: SID });
    }
  });

  it("takes the ID out of a pasted link, and keeps an owner link's key", () => {
    expect(checkSid(`https://demo.web.app/s/${SID}`)).toEqual({ ok: true, sid: SID });
    expect(checkSid(`https://demo.web.app/s/${GROUPED}/`)).toEqual({ ok: true, sid: SID });
    expect(checkSid(`http://192.168.1.5:8080/s/${SID}?x=1`)).toEqual({ ok: true, sid: SID });
    expect(checkSid(`demo.web.app/s/${SID}`)).toEqual({ ok: true, sid: SID });
    expect(checkSid(`/s/${SID}`)).toEqual({ ok: true, sid: SID });
    expect(checkSid(`https://demo.web.app/logs/${LEGACY}`)).toEqual({ ok: true, sid: LEGACY });
    expect(checkSid(`https://demo.web.app/s/${SID}#k=Ab_9-xYz`)).toEqual({ ok: true, sid: SID, key: "Ab_9-xYz" });
    expect(checkSid(` https://demo.web.app/s/${SID}#k=Ab_9-xYz `)).toEqual({ ok: true, sid: SID, key: "Ab_9-xYz" });
  });

  it("says what is wrong: empty, wrong length, wrong characters, a link to elsewhere", () => {
    expect(checkSid("")).toMatchObject({ ok: false, message: expect.stringContaining("Enter the 18-character") });
    expect(checkSid("  - ")).toMatchObject({ ok: false, message: expect.stringContaining("Enter") });
    expect(checkSid("k3m9x2")).toMatchObject({ ok: false, message: "A session ID has 18 characters (older ones 7); this one has 6." });
    expect(checkSid("k3m9x2pq")).toMatchObject({ ok: false, message: expect.stringContaining("this one has 8") });
    expect(checkSid(SID.slice(1))).toMatchObject({ ok: false, message: expect.stringContaining("this one has 17") });
    expect(checkSid(SID + "2")).toMatchObject({ ok: false, message: expect.stringContaining("this one has 19") });
    expect(checkSid(`https://demo.web.app/s/${SID.slice(3)}`)).toMatchObject({ ok: false, message: expect.stringContaining("this one has 15") });
    const r = checkSid("k3m0x2p");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain("“0”");
      expect(r.message).toContain("never use 0, 1, i, l or o");
    }
    expect(checkSid("x7kq2m/9hfw4c")).toMatchObject({ ok: false, message: expect.stringContaining("“/”") });
    expect(checkSid("<script>")).toMatchObject({ ok: false });
    expect(checkSid("https://demo.web.app/")).toMatchObject({ ok: false, message: expect.stringContaining("/s/") });
    expect(checkSid("https://demo.web.app/s/")).toMatchObject({ ok: false });
  });
});

describe("displaySid and isSid", () => {
  it("groups a current ID for reading; leaves legacy and malformed ones as they are", () => {
    expect(displaySid(SID)).toBe(GROUPED);
    expect(displaySid(LEGACY)).toBe(LEGACY);
    expect(displaySid("<b>")).toBe("<b>");
    expect(checkSid(displaySid(SID))).toEqual({ ok: true, sid: SID });
  });
  it("isSid is the canonical form only", () => {
    expect(isSid(SID)).toBe(true);
    expect(isSid(LEGACY)).toBe(true);
    expect(isSid(GROUPED)).toBe(false);
    expect(isSid(SID.toUpperCase())).toBe(false);
    expect(isSid(SID.slice(1))).toBe(false);
    expect(isSid("k3m9x2pq")).toBe(false);
    expect(isSid(undefined)).toBe(false);
  });
});

describe("routes", () => {
  it("parses the app's paths", () => {
    expect(parseRoute("/")).toEqual({ name: "home" });
    expect(parseRoute(`/s/${SID}`)).toEqual({ name: "session", sid: SID });
    expect(parseRoute(`/s/${SID}/`)).toEqual({ name: "session", sid: SID });
    expect(parseRoute(`/s/${GROUPED}`)).toEqual({ name: "session", sid: GROUPED }); // main.ts canonicalises
    expect(parseRoute("/s/k3m9x2p")).toEqual({ name: "session", sid: "k3m9x2p" });
    expect(parseRoute("/s/%3Cb%3E")).toEqual({ name: "session", sid: "<b>" });
    expect(parseRoute("/s/%E0%A4%A")).toEqual({ name: "session", sid: "%E0%A4%A" });
    expect(parseRoute("/logs/k3m9x2p")).toEqual({ name: "redirect", to: "/s/k3m9x2p" });
    expect(parseRoute(`/logs/${SID}`)).toEqual({ name: "redirect", to: `/s/${SID}` });
    expect(parseRoute("/nope")).toEqual({ name: "notFound", path: "/nope" });
    expect(sessionPath("k3m9x2p")).toBe("/s/k3m9x2p");
    expect(sessionPath(SID)).toBe(`/s/${SID}`);
  });
  it("a route's ID goes through checkSid to its canonical form", () => {
    const r = parseRoute(`/s/${GROUPED.toUpperCase()}`);
    expect(r.name).toBe("session");
    if (r.name === "session") expect(checkSid(r.sid)).toEqual({ ok: true, sid: SID });
  });
  it("reads the owner key from the fragment only", () => {
    expect(ownerKeyFromHash("#k=abc_DEF-123")).toBe("abc_DEF-123");
    expect(ownerKeyFromHash("")).toBeNull();
    expect(ownerKeyFromHash("#x=1")).toBeNull();
  });
});
