import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { MAX_VIEWERS, counterValue, isWellFormedToken, ownerSubscriberId, subscriberFields, subscriberId } from "../src/subscriber";

describe("subscriberId", () => {
  test("is the hex SHA-256 of the token", async () => {
    // Known vector: SHA-256("abc").
    expect(await subscriberId("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const token = "fJ3k:APA91bH-example_token-with:colons_and-dashes";
    expect(await subscriberId(token)).toBe(createHash("sha256").update(token, "utf8").digest("hex"));
  });

  test("is deterministic, distinct per token, and a valid Firestore document ID", async () => {
    const a = await subscriberId("token-a");
    expect(await subscriberId("token-a")).toBe(a);
    expect(await subscriberId("token-b")).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  test("hashes the UTF-8 bytes of a 4,096-character or non-ASCII token", async () => {
    const long = "x".repeat(4096);
    expect(await subscriberId(long)).toBe(createHash("sha256").update(long).digest("hex"));
    expect(await subscriberId("tök€n")).toBe(createHash("sha256").update("tök€n", "utf8").digest("hex"));
  });

  test("refuses an empty token", async () => {
    await expect(subscriberId("")).rejects.toThrow();
  });
});

describe("subscriberFields", () => {
  test("token, kind fcm, and lang clipped to the rules' 16 characters (omitted when empty)", () => {
    expect(subscriberFields("t", "en-GB")).toEqual({ token: "t", kind: "fcm", lang: "en-GB" });
    expect(subscriberFields("t", "x".repeat(40)).lang).toHaveLength(16);
    expect(subscriberFields("t", "")).toEqual({ token: "t", kind: "fcm" });
    expect(subscriberFields("t", undefined)).toEqual({ token: "t", kind: "fcm" });
  });

  test("device: dh only for a subscription proven by this device's enrolment", () => {
    const dh = "a".repeat(64);
    expect(subscriberFields("t", "en", dh)).toEqual({ token: "t", kind: "fcm", lang: "en", device: dh });
    expect(subscriberFields("t", "", null)).toEqual({ token: "t", kind: "fcm" });
  });
});

describe("ownerSubscriberId", () => {
  test('is "o-" + the hex SHA-256 of key + ":" + token (what the rules recompute)', async () => {
    const key = "Q2hY0c1n_vW3pLx9-RtAeKu7ZmNbD4sF";
    const token = "fJ3k:APA91bH-example_token-with:colons_and-dashes";
    expect(await ownerSubscriberId(key, token)).toBe(
      "o-" + createHash("sha256").update(`${key}:${token}`, "utf8").digest("hex"),
    );
    expect(await ownerSubscriberId(key, token)).not.toBe(await ownerSubscriberId("other-key", token));
    expect(await ownerSubscriberId(key, token)).toMatch(/^o-[0-9a-f]{64}$/);
  });

  test("refuses an empty key or token", async () => {
    await expect(ownerSubscriberId("", "t".repeat(40))).rejects.toThrow();
    await expect(ownerSubscriberId("k", "")).rejects.toThrow();
  });
});

describe("isWellFormedToken (the rules' token check)", () => {
  test("accepts FCM-like tokens of 32..1024 characters of [A-Za-z0-9_:-]", () => {
    expect(isWellFormedToken("fJ3k:APA91bH-example_token-with:colons_and-dashes")).toBe(true);
    expect(isWellFormedToken("t".repeat(32))).toBe(true);
    expect(isWellFormedToken("t".repeat(1024))).toBe(true);
  });

  test("refuses anything else", () => {
    for (const bad of ["t".repeat(31), "t".repeat(1025), "t".repeat(4096), "hello<script>".padEnd(40, "x"), `${"t".repeat(40)} `, `${"t".repeat(40)}/`, `${"t".repeat(40)}é`, "", 42, null, undefined]) {
      expect(isWellFormedToken(bad)).toBe(false);
    }
  });
});

describe("counterValue", () => {
  test("n of the counter document, 0 when missing or malformed", () => {
    expect(counterValue({ n: 3, last: "x" })).toBe(3);
    expect(counterValue(undefined)).toBe(0);
    expect(counterValue({})).toBe(0);
    expect(counterValue({ n: "3" })).toBe(0);
    expect(counterValue({ n: 1.5 })).toBe(0);
    expect(counterValue({ n: -1 })).toBe(0);
  });

  test("MAX_VIEWERS is the rules' cap", () => {
    expect(MAX_VIEWERS).toBe(20);
  });
});
