import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { subscriberFields, subscriberId } from "../src/subscriber";

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
});
