// Notify me as an owner (issue 19): which secrets name the owner subscription, in which order,
// and the device-proven subscription's ID and shape, as firestore.rules recompute them
// (isDeviceProof: "o-" + sha256(P + ":" + token), P the enrolment's proof sha256(K + ":" + dh)).
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryStorage } from "./fakes";

const SID = "x7kq2m9hfw4cpd3ntr";
const WID = "wx7kq2m9hfw4cpd3ntr";
const D = "D".repeat(43); // a device secret as device.ts draws them (43 base64url characters)
const K1 = "run1-owner-key-AbC_123-xyz-45678";
const WK = "workspace-owner-key-AbC_123-xyz9";
const TOKEN = "e2e-fcm-token:APA91b" + "x".repeat(120);
const hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const DH = hex(D);
const P1 = hex(`${K1}:${DH}`); // the session enrolment's proof, made in run 1 with K1
const PW = hex(`${WK}:${DH}`); // the workspace enrolment's proof
let local: MemoryStorage;

beforeEach(() => {
  vi.resetModules(); // fresh modules (their in-memory copies) for every test: like a new page
  local = new MemoryStorage();
  local.setItem("tfw:device", D);
  vi.stubGlobal("localStorage", local);
  vi.stubGlobal("sessionStorage", new MemoryStorage());
  vi.stubGlobal("location", { hash: "", pathname: `/s/${SID}`, search: "" });
  vi.stubGlobal("history", { state: null, replaceState: () => undefined });
});
afterEach(() => vi.unstubAllGlobals());

const proofs = async () => import("../src/owner-proofs");
const strip = (ps: { secret: string; device: string | null; known: boolean }[]) => ps.map((p) => [p.secret, p.device, p.known]);

describe("orderProofs", () => {
  it("known keys, then enrolments (with dh), then keys of unknown worth; each once", async () => {
    const { orderProofs } = await proofs();
    const f = { knownKeys: ["a", null], enrolments: ["p", "", null], otherKeys: ["b", "a", null] };
    expect(strip(orderProofs(f, "dh"))).toEqual([["a", null, true], ["p", "dh", true], ["b", null, false]]);
    // Without dh (not enrolled) no enrolment is offered.
    expect(strip(orderProofs(f, null))).toEqual([["a", null, true], ["b", null, false]]);
    expect(orderProofs({ knownKeys: [], enrolments: [], otherKeys: [] }, null)).toEqual([]);
  });
});

describe("the session page", () => {
  it("a viewer (nothing held) subscribes as a viewer; an enrolment of unknown proof is no proof", async () => {
    expect(await (await proofs()).sessionOwnerProofs(SID, 2)).toEqual([]);
    local.setItem(`tfw:device-enrolled:${SID}`, ""); // enrolled, proof not kept (owner.ts)
    vi.resetModules();
    expect(await (await proofs()).sessionOwnerProofs(SID, 2)).toEqual([]);
  });

  it("the key proven in this very run first; in a later run the device's enrolment, the old key last", async () => {
    local.setItem(`tfw:owner:${SID}`, K1);
    local.setItem(`tfw:owner-run:${SID}`, "1");
    local.setItem(`tfw:device-enrolled:${SID}`, P1);
    const { sessionOwnerProofs } = await proofs();
    expect(strip(await sessionOwnerProofs(SID, 1))).toEqual([[K1, null, true], [P1, DH, true]]);
    expect(strip(await sessionOwnerProofs(SID, 2))).toEqual([[P1, DH, true], [K1, null, false]]);
    expect(strip(await sessionOwnerProofs(SID, null))).toEqual([[P1, DH, true], [K1, null, false]]);
  });

  it("no key at all (removed, or never seen) but enrolled: the device-proven subscription", async () => {
    local.setItem(`tfw:device-enrolled:${SID}`, P1);
    const { sessionOwnerProofs } = await proofs();
    const [p, ...rest] = await sessionOwnerProofs(SID, 3);
    expect(rest).toEqual([]);
    expect(p).toEqual({ secret: P1, device: DH, known: true });
    // The document the dashboard writes: its ID and fields, as the rules check them.
    const { ownerSubscriberId, subscriberFields } = await import("../src/subscriber");
    expect(await ownerSubscriberId(p.secret, TOKEN)).toBe(`o-${hex(`${P1}:${TOKEN}`)}`);
    expect(subscriberFields(TOKEN, "en-GB", p.device)).toEqual({ token: TOKEN, kind: "fcm", lang: "en-GB", device: DH });
    // Neither D nor a key is in the document.
    expect(JSON.stringify(subscriberFields(TOKEN, "en-GB", p.device))).not.toContain(D);
  });

  it("opened from its workspace: the workspace key (known when its enrolment proves it), the workspace enrolment", async () => {
    local.setItem("tfw:run-workspace", JSON.stringify([[SID, WID]]));
    local.setItem(`tfw:owner:${WID}`, WK);
    local.setItem(`tfw:device-enrolled:${WID}`, PW);
    const { sessionOwnerProofs } = await proofs();
    expect(strip(await sessionOwnerProofs(SID, 2))).toEqual([[WK, null, true], [PW, DH, true]]);
    // The workspace key removed from this device: the workspace enrolment alone.
    local.removeItem(`tfw:owner:${WID}`);
    vi.resetModules();
    expect(strip(await (await proofs()).sessionOwnerProofs(SID, 2))).toEqual([[PW, DH, true]]);
    // A workspace key the device never enrolled with is of unknown worth.
    local.setItem(`tfw:owner:${WID}`, "some-other-key-AbC_123-xyz-45678");
    vi.resetModules();
    expect(strip(await (await proofs()).sessionOwnerProofs(SID, 2))).toEqual([
      [PW, DH, true], ["some-other-key-AbC_123-xyz-45678", null, false],
    ]);
  });

  it("the workspace is known only when this device opened the run from it", async () => {
    local.setItem(`tfw:owner:${WID}`, WK);
    local.setItem(`tfw:device-enrolled:${WID}`, PW);
    expect(await (await proofs()).sessionOwnerProofs(SID, 2)).toEqual([]);
  });
});

describe("the workspace page", () => {
  it("a viewer subscribes as a viewer", async () => {
    expect(await (await proofs()).workspaceOwnerProofs(WID)).toEqual([]);
  });

  it("the owner key, known once this device enrolled with it, then the enrolment", async () => {
    local.setItem(`tfw:owner:${WID}`, WK);
    const { workspaceOwnerProofs } = await proofs();
    expect(strip(await workspaceOwnerProofs(WID))).toEqual([[WK, null, false]]); // enrolment not made (yet)
    local.setItem(`tfw:device-enrolled:${WID}`, PW);
    vi.resetModules();
    const ps = await (await proofs()).workspaceOwnerProofs(WID);
    expect(strip(ps)).toEqual([[WK, null, true], [PW, DH, true]]);
    const { ownerSubscriberId } = await import("../src/subscriber");
    // The owner link's subscription: "o-" + sha256(WK + ":" + token), as the rules want for workspaces.
    expect(await ownerSubscriberId(ps[0].secret, TOKEN)).toBe(`o-${hex(`${WK}:${TOKEN}`)}`);
  });

  it("the key removed but enrolled: the device-proven subscription; a crafted link's key comes last", async () => {
    local.setItem(`tfw:device-enrolled:${WID}`, PW);
    local.setItem(`tfw:owner-link:${WID}`, "crafted-key-AbC_123-xyz-45678901");
    const { workspaceOwnerProofs } = await proofs();
    expect(strip(await workspaceOwnerProofs(WID))).toEqual([[PW, DH, true], ["crafted-key-AbC_123-xyz-45678901", null, false]]);
  });
});
