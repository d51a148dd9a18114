import { describe, expect, test } from "vitest";
import { clickTarget, displayFromPayload } from "../src/push-payload";

const ORIGIN = "https://demo.web.app";

describe("displayFromPayload", () => {
  test("an FCM web push as notify.py sends it", () => {
    const d = displayFromPayload({
      notification: { title: "Training finished", body: "mnist (abc2345) · epoch 10/10", tag: "tfwatcher-abc2345-finished" },
      data: { sid: "abc2345", event: "finished", link: `${ORIGIN}/s/abc2345` },
      fcmOptions: { link: `${ORIGIN}/s/abc2345` },
      from: "000000000000",
    });
    expect(d.title).toBe("Training finished");
    expect(d.options.body).toBe("mnist (abc2345) · epoch 10/10");
    expect(d.options.tag).toBe("tfwatcher-abc2345-finished");
    expect(d.options.data).toEqual({ sid: "abc2345", event: "finished", link: `${ORIGIN}/s/abc2345` });
  });

  test("data only, garbage, or nothing still shows something", () => {
    expect(displayFromPayload({ data: { sid: "abc2345", event: "nan" } }).title).toBe("Loss is NaN");
    expect(displayFromPayload({ data: { sid: "abc2345", event: "nan" } }).options.body).toBe("Session abc2345");
    expect(displayFromPayload(null).title).toBe("TF Watcher");
    expect(displayFromPayload("text").title).toBe("TF Watcher");
    expect(displayFromPayload({ data: { sid: "../../x" } }).options.data.sid).toBeUndefined();
  });
});

describe("session IDs of the current format (tfwatcher/base/contract.json)", () => {
  const SID = "x7kq2m9hfw4cpd3ntr";
  test("a push for an 18-character ID shows its grouped form and opens its canonical page", () => {
    const d = displayFromPayload({ data: { sid: SID, event: "finished" } });
    expect(d.options.data.sid).toBe(SID);
    expect(d.options.body).toBe("Session x7kq2m-9hfw4c-pd3ntr");
    expect(d.options.tag).toBe(`tfwatcher-${SID}-finished`);
    expect(clickTarget({ sid: SID }, ORIGIN)).toBe(`${ORIGIN}/s/${SID}`);
  });
  test("anything but a canonical ID is dropped", () => {
    for (const bad of ["x7kq2m-9hfw4c-pd3ntr", SID.toUpperCase(), SID.slice(1), SID + "2", "abc234", "abc23456"]) {
      expect(displayFromPayload({ data: { sid: bad } }).options.data.sid, bad).toBeUndefined();
      expect(clickTarget({ sid: bad }, ORIGIN), bad).toBe(`${ORIGIN}/`);
    }
  });
});

describe("clickTarget", () => {
  test("the session page on the worker's own origin", () => {
    expect(clickTarget({ sid: "abc2345", link: "https://other.example/s/abc2345" }, ORIGIN)).toBe(`${ORIGIN}/s/abc2345`);
    expect(clickTarget({ sid: "abc2345" }, "http://127.0.0.1:5000")).toBe("http://127.0.0.1:5000/s/abc2345");
  });

  test("the link when there is no valid sid; never a javascript: URL", () => {
    expect(clickTarget({ link: `${ORIGIN}/s/abc2345` }, ORIGIN)).toBe(`${ORIGIN}/s/abc2345`);
    expect(clickTarget({ sid: "ABC0!", link: "https://x.example/s/abc2345" }, ORIGIN)).toBe("https://x.example/s/abc2345");
    expect(clickTarget({ link: "javascript:alert(1)" }, ORIGIN)).toBe(`${ORIGIN}/`);
    expect(clickTarget({ link: "http://evil.example/" }, ORIGIN)).toBe(`${ORIGIN}/`);
    expect(clickTarget(undefined, ORIGIN)).toBe(`${ORIGIN}/`);
  });
});
