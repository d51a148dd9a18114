/**
 * The session page's two actions: Stop (owners only; views/stop.ts, re-exported here) and
 * Notify me (anyone).
 *
 * Notify me asks for notification permission, gets an FCM token (src/fcm.ts, loaded on
 * press) and creates a subscription (src/subscriber.ts): on the owner link the owner's own
 * `subscribers/o-{sha256(key:token)}`, always notified; on a share link a viewer's
 * `subscribers/{sha256(token)}` together with the step of `counters/subscribers`, of which a
 * session takes at most MAX_VIEWERS.
 */
import { doc, getDocFromServer, serverTimestamp, writeBatch, type Firestore } from "firebase/firestore";
import { COLLECTIONS, collectionPath, sessionPath } from "../contract";
import { h, setText } from "../dom";
import type { FirebaseHandles } from "../firebase";
import { ownerKey } from "../owner";
import {
  MAX_OWNERS,
  MAX_VIEWERS,
  counterValue,
  isWellFormedToken,
  ownerSubscriberId,
  subscriberFields,
  subscriberId,
} from "../subscriber";
import type { Control } from "./stop";

export { currentRun, mayStop, mountStop, type Control } from "./stop";

const COUNTERS = COLLECTIONS.counters; // sessions/{sid}/counters/subscribers: the viewer cap

const errCode = (err: unknown) => (err as { code?: string } | null)?.code ?? "";

// ---- Notify me -----------------------------------------------------------------------------

const SUBSCRIBED = "tfw:notify:";

export function pushSupported(): boolean {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext &&
    "Notification" in window &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    !!globalThis.crypto?.subtle
  );
}

function remembered(sid: string): boolean {
  try {
    return localStorage.getItem(SUBSCRIBED + sid) != null;
  } catch {
    return false;
  }
}

function remember(sid: string, id: string): void {
  try {
    localStorage.setItem(SUBSCRIBED + sid, id);
  } catch {
    /* private mode: fine */
  }
}

export function mountNotify(slot: HTMLElement, sid: string, firebase: () => Promise<FirebaseHandles>): Control {
  let running = false;
  let busy = false;
  let on = remembered(sid);
  const btn = h("button", { type: "button", class: "secondary", "data-action": "notify" }, "Notify me");
  const msg = h("p", { class: "control-msg", "data-notify-message": true, "aria-live": "polite", hidden: true });
  slot.replaceChildren(btn, msg);

  function say(text: string | null, kind: "info" | "error" = "info"): void {
    msg.hidden = text == null;
    msg.dataset.kind = kind;
    setText(msg, text ?? "");
  }

  function render(): void {
    slot.hidden = !running && msg.hidden;
    btn.hidden = !running;
    btn.disabled = busy || on;
    btn.setAttribute("aria-pressed", String(on));
    setText(btn, on ? "Notifications on" : busy ? "Turning on…" : "Notify me");
  }

  const blockedHelp =
    "Notifications are blocked for this site. To allow them, tap the icon left of the address (or the browser menu → Site settings), set Notifications to Allow, then press Notify me again.";

  btn.addEventListener("click", async () => {
    if (busy || on) return;
    if (Notification.permission === "denied") {
      say(blockedHelp);
      return;
    }
    busy = true;
    say(null);
    render();
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say(
          permission === "denied"
            ? "No notifications, then — this page keeps updating on its own. To change your mind later, allow notifications for this site in the browser's site settings."
            : "No notifications, then — this page keeps updating on its own. Press Notify me again if you change your mind.",
        );
        return;
      }
      const fb = await firebase();
      const { fcmToken } = await import("../fcm");
      const token = await fcmToken(fb);
      if (!isWellFormedToken(token)) throw new Error("the push service returned a token of an unexpected form");
      const key = ownerKey(sid);
      const outcome = key ? await subscribeOwner(fb.db, sid, key, token) : await subscribeViewer(fb.db, sid, token);
      if (outcome.kind === "full") {
        say(
          key
            ? `This session already has ${MAX_OWNERS} owner devices subscribed, the most it takes.`
            : `This session already has ${MAX_VIEWERS} subscribers, the most it takes. The owner (from the owner link) can still subscribe.`,
          "error",
        );
        return;
      }
      say(
        outcome.kind === "created"
          ? "You'll get a notification on this device when training finishes, crashes, stalls or the loss turns NaN."
          : "This device is already subscribed to this session.",
      );
      on = true;
      remember(sid, outcome.id);
    } catch (err) {
      say(`Couldn't turn on notifications: ${(err as Error).message ?? String(err)}`, "error");
    } finally {
      busy = false;
      render();
    }
  });

  render();
  return {
    update(status) {
      running = status === "running";
      render();
    },
  };
}

type Subscribed = { kind: "created" | "exists"; id: string } | { kind: "full" };

const subscription = (token: string) => ({ ...subscriberFields(token, navigator.language), created: serverTimestamp() });

/** The owner's subscription: the rules check the ID against the owner key, and count it on
 * `counters/owners` (at most MAX_OWNERS, so a leaked key cannot crowd the owner's phones out). */
async function subscribeOwner(db: Firestore, sid: string, key: string, token: string): Promise<Subscribed> {
  return subscribeCounted(db, sid, await ownerSubscriberId(key, token), token, "owners", MAX_OWNERS);
}

/** A viewer's subscription, counted on `counters/subscribers` (at most MAX_VIEWERS). */
async function subscribeViewer(db: Firestore, sid: string, token: string): Promise<Subscribed> {
  return subscribeCounted(db, sid, await subscriberId(token), token, "subscribers", MAX_VIEWERS);
}

/**
 * The subscription and its counter's step in one batch. When another device took the same
 * step first the batch is refused and the counter has moved: read it and try again. Refused
 * with the counter unchanged: this device's document exists already.
 */
async function subscribeCounted(db: Firestore, sid: string, id: string, token: string, name: string, max: number): Promise<Subscribed> {
  const counter = doc(db, sessionPath(sid), COUNTERS, name);
  for (let attempt = 0; attempt < 5; attempt++) {
    const n = counterValue((await getDocFromServer(counter)).data());
    if (n >= max) return { kind: "full" };
    const batch = writeBatch(db);
    batch.set(doc(db, collectionPath(sid, "subscribers"), id), subscription(token));
    batch.set(counter, { n: n + 1, last: id });
    try {
      await batch.commit();
      return { kind: "created", id };
    } catch (err) {
      if (errCode(err) !== "permission-denied") throw err;
      const now = counterValue((await getDocFromServer(counter)).data());
      if (now === n) return { kind: "exists", id };
    }
  }
  throw new Error("too many people are subscribing at once; try again");
}
