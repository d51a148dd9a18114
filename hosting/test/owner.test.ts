import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryStorage } from "./fakes";

const SID = "x7kq2m9hfw4cpd3ntr";
let local: MemoryStorage;
let session: MemoryStorage;
let replaced: string[];

beforeEach(() => {
  vi.resetModules(); // a fresh owner.ts (its in-memory copy) for every test: like a new page
  local = new MemoryStorage();
  session = new MemoryStorage();
  replaced = [];
  vi.stubGlobal("localStorage", local);
  vi.stubGlobal("sessionStorage", session);
  vi.stubGlobal("location", { hash: "#k=AbC_12-xyz", pathname: `/s/${SID}`, search: "" });
  vi.stubGlobal("history", { state: null, replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) });
});
afterEach(() => vi.unstubAllGlobals());

describe("owner key on this device", () => {
  it("is taken from the fragment, removed from the address bar and kept in localStorage per session", async () => {
    const owner = await import("../src/owner");
    owner.captureOwnerKey(SID);
    expect(replaced).toEqual([`/s/${SID}`]);
    expect(local.getItem(`tfw:owner:${SID}`)).toBe("AbC_12-xyz");
    expect(session.getItem(`tfw:owner:${SID}`)).toBeNull();
    expect(owner.ownerKey(SID)).toBe("AbC_12-xyz");
    expect(owner.ownerKey("otherotherotherab2")).toBeNull();
  });

  it("is still there when the session is reopened in a new page (from recents or the app)", async () => {
    (await import("../src/owner")).captureOwnerKey(SID);
    vi.resetModules();
    vi.stubGlobal("location", { hash: "", pathname: `/s/${SID}`, search: "" });
    const again = await import("../src/owner");
    again.captureOwnerKey(SID); // no fragment: nothing changes
    expect(again.ownerKey(SID)).toBe("AbC_12-xyz");
    expect(again.hasOwnerKey(SID)).toBe(true);
  });

  it("Forget removes it from this device: memory, localStorage and the old sessionStorage", async () => {
    const owner = await import("../src/owner");
    owner.captureOwnerKey(SID);
    session.setItem(`tfw:owner:${SID}`, "old");
    owner.forgetOwnerKey(SID);
    expect(owner.ownerKey(SID)).toBeNull();
    expect(local.getItem(`tfw:owner:${SID}`)).toBeNull();
    expect(session.getItem(`tfw:owner:${SID}`)).toBeNull();
    vi.resetModules();
    expect((await import("../src/owner")).ownerKey(SID)).toBeNull();
  });

  it("a key kept in sessionStorage by an earlier version moves to localStorage", async () => {
    session.setItem(`tfw:owner:${SID}`, "legacy-key");
    const owner = await import("../src/owner");
    expect(owner.ownerKey(SID)).toBe("legacy-key");
    expect(local.getItem(`tfw:owner:${SID}`)).toBe("legacy-key");
    expect(session.getItem(`tfw:owner:${SID}`)).toBeNull();
  });

  it("works in memory when storage throws (disabled storage)", async () => {
    const broken = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); }, removeItem: () => { throw new Error("denied"); } };
    vi.stubGlobal("localStorage", broken);
    vi.stubGlobal("sessionStorage", broken);
    const owner = await import("../src/owner");
    owner.captureOwnerKey(SID);
    expect(owner.ownerKey(SID)).toBe("AbC_12-xyz");
    owner.forgetOwnerKey(SID);
    expect(owner.ownerKey(SID)).toBeNull();
  });
});
