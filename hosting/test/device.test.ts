// The owner's phone stays the owner (issue 19, item 6): the device secret, its hash, what the
// device remembers of its enrolments, and which secrets Stop tries in which order.
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryStorage } from "./fakes";

const SID = "x7kq2m9hfw4cpd3ntr";
const WID = "wx7kq2m9hfw4cpd3ntr";
const nodeHex = (text: string | Uint8Array) => createHash("sha256").update(text).digest("hex");
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
let local: MemoryStorage;

beforeEach(() => {
  vi.resetModules(); // fresh modules (their in-memory copies) for every test: like a new page
  local = new MemoryStorage();
  vi.stubGlobal("localStorage", local);
  vi.stubGlobal("sessionStorage", new MemoryStorage());
  vi.stubGlobal("location", { hash: "", pathname: `/s/${SID}`, search: "" });
  vi.stubGlobal("history", { state: null, replaceState: () => undefined });
});
afterEach(() => vi.unstubAllGlobals());

describe("SHA-256", () => {
  it("the stand-in for pages without crypto.subtle (LAN over http) agrees with Node's, at every padding edge", async () => {
    const { sha256 } = await import("../src/device");
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4099]) {
      const data = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
      expect(hex(sha256(data)), `${n} bytes`).toBe(nodeHex(data));
    }
    expect(hex(sha256(new TextEncoder().encode("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("sha256hex is lower-case hex of the UTF-8 text, with and without crypto.subtle", async () => {
    const { sha256hex } = await import("../src/device");
    const text = "owner-key-Ünïcødé:🙂";
    expect(await sha256hex(text)).toBe(nodeHex(Buffer.from(text, "utf8")));
    const real = globalThis.crypto;
    vi.stubGlobal("crypto", { getRandomValues: (a: Uint8Array<ArrayBuffer>) => real.getRandomValues(a) });
    expect(globalThis.crypto.subtle).toBeUndefined();
    expect(await sha256hex(text)).toBe(nodeHex(Buffer.from(text, "utf8")));
    expect((await import("../src/device")).deviceSecret()).toMatch(/^[A-Za-z0-9_-]{43}$/); // D without subtle too
  });
});

describe("the device secret D", () => {
  it("is drawn once (32 random bytes, base64url), kept in localStorage, and the same in a new page", async () => {
    const device = await import("../src/device");
    const d = device.deviceSecret();
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(device.deviceSecret()).toBe(d);
    expect(local.getItem("tfw:device")).toBe(d);
    vi.resetModules();
    expect((await import("../src/device")).deviceSecret()).toBe(d);
    // Another device (another storage) draws another secret.
    vi.resetModules();
    vi.stubGlobal("localStorage", new MemoryStorage());
    expect((await import("../src/device")).deviceSecret()).not.toBe(d);
  });

  it("a malformed stored value is replaced; storage that throws keeps D for the page", async () => {
    local.setItem("tfw:device", "short");
    const device = await import("../src/device");
    expect(device.deviceSecret()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    vi.resetModules();
    const broken = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); }, removeItem: () => { throw new Error("denied"); } };
    vi.stubGlobal("localStorage", broken);
    const again = await import("../src/device");
    const d = again.deviceSecret();
    expect(again.deviceSecret()).toBe(d);
    const owner = await import("../src/owner");
    owner.markEnrolled(SID, "p");
    expect(owner.isEnrolled(SID)).toBe(true);
  });

  it("dh = hex sha256(D); the proof = hex sha256(K + ':' + dh), as the rules compute them", async () => {
    const device = await import("../src/device");
    const d = device.deviceSecret();
    const dh = await device.deviceId();
    expect(dh).toBe(nodeHex(d));
    expect(dh).toMatch(/^[0-9a-f]{64}$/);
    expect(await device.enrolmentProof("KEY", dh)).toBe(nodeHex(`KEY:${dh}`));
  });
});

describe("enrolments remembered (owner.ts), and forgotten with the owner key", () => {
  it("per session or workspace; Forget owner key forgets this session's only", async () => {
    const owner = await import("../src/owner");
    expect(owner.isEnrolled(SID)).toBe(false);
    owner.markEnrolled(SID, "proof-s");
    owner.markEnrolled(WID, "proof-w");
    expect(owner.enrolledProof(SID)).toBe("proof-s");
    expect(owner.hasOwnerKey(SID)).toBe(true); // an enrolled device is an owner in the recents list
    owner.forgetOwnerKey(SID);
    expect(owner.isEnrolled(SID)).toBe(false);
    expect(owner.hasOwnerKey(SID)).toBe(false);
    expect(owner.isEnrolled(WID)).toBe(true);
    vi.resetModules();
    expect((await import("../src/owner")).isEnrolled(SID)).toBe(false);
  });

  it("the run a key was proven in is kept with it, and dropped when another key is remembered", async () => {
    const owner = await import("../src/owner");
    owner.rememberOwnerKey(SID, "k1");
    expect(owner.keyRun(SID)).toBeNull();
    owner.setKeyRun(SID, 1);
    owner.acceptOwnerKey(SID, "k1"); // the same key: still proven in run 1
    vi.resetModules();
    const again = await import("../src/owner");
    expect(again.keyRun(SID)).toBe(1);
    again.acceptOwnerKey(SID, "k2");
    expect(again.keyRun(SID)).toBeNull();
    again.setKeyRun(SID, 2);
    again.forgetOwnerKey(SID);
    expect(again.keyRun(SID)).toBeNull();
  });
});

describe("Stop: who may, and with which secret", () => {
  const facts = (f: Partial<import("../src/ownership").OwnerFacts> = {}) => ({
    key: null, keyRun: null, linkKey: null, workspaceKey: null, enrolled: false, ...f,
  });
  const D = () => "D-secret";

  it("a viewer (nothing held) has no Stop and no secret to try", async () => {
    const { mayOwn, stopCandidates } = await import("../src/ownership");
    expect(mayOwn(facts())).toBe(false);
    expect(stopCandidates(facts(), 1, D)).toEqual([]);
  });

  it("run 1 with the owner link: its key; later runs: D first, the old key last", async () => {
    const { mayOwn, stopCandidates } = await import("../src/ownership");
    expect(stopCandidates(facts({ key: "K1", keyRun: 1, enrolled: true }), 1, D)).toEqual([
      { key: "K1", kind: "run-key" }, { key: "D-secret", kind: "device" },
    ]);
    const later = facts({ key: "K1", keyRun: 1, enrolled: true });
    expect(mayOwn(later)).toBe(true);
    expect(stopCandidates(later, 2, D)).toEqual([{ key: "D-secret", kind: "device" }, { key: "K1", kind: "old-key" }]);
  });

  it("the workspace key before D; a new link's key before the remembered one; no duplicates", async () => {
    const { stopCandidates } = await import("../src/ownership");
    expect(stopCandidates(facts({ key: "K1", linkKey: "K2", workspaceKey: "W", enrolled: true }), 2, D).map((c) => c.kind))
      .toEqual(["workspace-key", "device", "link-key", "old-key"]);
    expect(stopCandidates(facts({ key: "K", linkKey: "K" }), 1, D)).toEqual([{ key: "K", kind: "link-key" }]);
    let drawn = 0;
    stopCandidates(facts({ key: "K" }), 1, () => `D${++drawn}`);
    expect(drawn).toBe(0); // D is not even drawn when the device is not enrolled
  });

  it("ownerFacts: the workspace counts only when this device opened the run from it", async () => {
    const owner = await import("../src/owner");
    const memory = await import("../src/workspace-memory");
    const { mayOwn, ownerFacts } = await import("../src/ownership");
    owner.rememberOwnerKey(WID, "W");
    expect(mayOwn(ownerFacts(SID))).toBe(false);
    memory.rememberRunWorkspace(SID, WID);
    expect(ownerFacts(SID)).toMatchObject({ workspaceKey: "W", enrolled: false });
    owner.forgetOwnerKey(WID);
    expect(mayOwn(ownerFacts(SID))).toBe(false);
    owner.markEnrolled(WID, "p");
    expect(ownerFacts(SID)).toMatchObject({ workspaceKey: null, enrolled: true });
    expect(mayOwn(ownerFacts(SID))).toBe(true);
  });

  it("a refusal says this device is not an owner of this run, and why — never 'already stopped'", async () => {
    const { refusalText } = await import("../src/ownership");
    const stale = refusalText(["old-key"]);
    expect(stale).toMatch(/^Not stopped: this device is not an owner of this run\./);
    expect(stale).toMatch(/owner key was not accepted/);
    expect(stale).toMatch(/earlier run/);
    expect(stale).not.toMatch(/already/i);
    expect(refusalText(["workspace-key", "device"])).toMatch(/workspace owner key .* not accepted.*enrolment/);
  });
});
