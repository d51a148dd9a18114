/**
 * The session page's two actions: Stop (owner link only) and Notify me (anyone).
 *
 * Stop creates `sessions/{sid}/control/stop-{run}` = `{key, run, at: serverTimestamp()}` after
 * an in-page confirmation (not `window.confirm`: it works the same on phones and in tests),
 * where `run` is the session document's current run (a re-used callback counts its fits). The
 * rules accept it once, for the run in progress, with the owner key; the Python writer
 * listens to the current run's document and ends training; the status pill turns "Stopped"
 * from the session snapshot. A refusal (wrong key, a run already asked to stop, a run that
 * ended) is said plainly and never shown as success. A session written by an older TF
 * Watcher has no `run`: Stop is unavailable there, and the page says why.
 *
 * The owner key is remembered on this device (owner.ts), so Stop is there again when the
 * session is reopened from the recent sessions or the installed app. "Forget owner key on
 * this device" (with an in-page confirmation) removes it and the Stop button with it; the
 * owner link brings both back.
 *
 * Notify me asks for notification permission, gets an FCM token (src/fcm.ts, loaded on
 * press) and creates a subscription (src/subscriber.ts): on the owner link the owner's own
 * `subscribers/o-{sha256(key:token)}`, always notified; on a share link a viewer's
 * `subscribers/{sha256(token)}` together with the step of `counters/subscribers`, of which a
 * session takes at most MAX_VIEWERS.
 */
import { doc, getDocFromServer, serverTimestamp, setDoc, writeBatch, type Firestore } from "firebase/firestore";
import { COLLECTIONS, collectionPath, sessionPath, stopId } from "../contract";
import { h, setText } from "../dom";
import type { FirebaseHandles } from "../firebase";
import { acceptOwnerKey, forgetOwnerKey, linkOwnerKey, ownerKey } from "../owner";
import {
  MAX_OWNERS,
  MAX_VIEWERS,
  counterValue,
  isWellFormedToken,
  ownerSubscriberId,
  subscriberFields,
  subscriberId,
} from "../subscriber";

const COUNTERS = COLLECTIONS.counters; // sessions/{sid}/counters/subscribers: the viewer cap

export interface Control {
  /**
   * Called on every session snapshot with the stored status (`running`, `stopped`, ...) and
   * the session document's data (for its `run`).
   */
  update(status: string, session?: Record<string, unknown> | null): void;
}

/** The session document's `run` (a positive integer), or null (an older writer has none). */
export function currentRun(session: Record<string, unknown> | null | undefined): number | null {
  const run = session?.run;
  return typeof run === "number" && Number.isInteger(run) && run >= 1 ? run : null;
}

const errCode = (err: unknown) => (err as { code?: string } | null)?.code ?? "";

// ---- Stop ----------------------------------------------------------------------------------

export function mountStop(slot: HTMLElement, sid: string, key: string, db: Promise<Firestore>, onForget?: () => void): Control {
  let state: "idle" | "confirming" | "stopping" | "sent" = "idle";
  let forgotten = false;
  let running = false;
  let run: number | null = null; // the run in progress, from the latest session snapshot
  let stateRun: number | null = null; // the run the confirmation or the sent stop is for
  const stopBtn = h("button", { type: "button", class: "danger", "data-action": "stop" }, "Stop training");
  const question = h("p", { id: `stop-q-${sid}` }, "Stop training now? Keras finishes the current batch, then the run ends as “stopped”. It can't be resumed.");
  const yes = h("button", { type: "button", class: "danger", "data-action": "stop-confirm" }, "Stop");
  const no = h("button", { type: "button", class: "secondary", "data-action": "stop-cancel" }, "Cancel");
  const confirmBox = h(
    "div",
    { class: "confirm", role: "alertdialog", "aria-labelledby": `stop-q-${sid}`, hidden: true },
    question,
    h("div", { class: "confirm-buttons" }, yes, no),
  );
  const msg = h("p", { class: "control-msg", "data-stop-message": true, "aria-live": "polite", hidden: true });
  // A link whose key differs from the remembered one (owner.ts): said plainly, tried on Stop.
  const linkNote = h(
    "p",
    { class: "control-msg", "data-owner-key-note": true, hidden: linkOwnerKey(sid) == null },
    "This link's owner key is not the one this device remembers for this session. The remembered key is kept; the link's key replaces it only if it is accepted when you press Stop (a wrong key, or one from an earlier run, is refused).",
  );
  const unavailable = h(
    "p",
    { class: "control-msg", "data-stop-unavailable": true, hidden: true },
    "Stop is unavailable for this session: it was started by an older TF Watcher. Update the tfwatcher package to stop runs from here.",
  );
  // Forget the key on this device: visible whatever the status (a finished run's key too).
  const forgetBtn = h("button", { type: "button", class: "link forget-owner", "data-action": "forget-owner" }, "Forget owner key on this device");
  const forgetYes = h("button", { type: "button", class: "danger", "data-action": "forget-confirm" }, "Forget");
  const forgetNo = h("button", { type: "button", class: "secondary", "data-action": "forget-cancel" }, "Cancel");
  const forgetBox = h(
    "div",
    { class: "confirm", role: "alertdialog", "aria-labelledby": `forget-q-${sid}`, hidden: true },
    h("p", { id: `forget-q-${sid}` }, "Forget the owner key on this device? Stop is then gone here until you open the owner link (the one with #k=) again."),
    h("div", { class: "confirm-buttons" }, forgetYes, forgetNo),
  );
  slot.replaceChildren(h("div", { class: "stop" }, stopBtn, confirmBox), msg, linkNote, unavailable, forgetBtn, forgetBox);
  forgetBtn.addEventListener("click", () => {
    forgetBtn.hidden = true;
    forgetBox.hidden = false;
    forgetYes.focus();
  });
  forgetNo.addEventListener("click", () => {
    forgetBox.hidden = true;
    forgetBtn.hidden = false;
    forgetBtn.focus();
  });
  forgetYes.addEventListener("click", () => {
    forgetOwnerKey(sid);
    forgotten = true;
    slot.replaceChildren(
      h("p", { class: "control-msg", "data-owner-forgotten": true, "aria-live": "polite" }, "Owner key forgotten on this device. Open the owner link again to stop this run from here."),
    );
    slot.hidden = false;
    onForget?.();
  });

  function say(text: string | null, kind: "info" | "error" = "info"): void {
    msg.hidden = text == null;
    msg.dataset.kind = kind;
    setText(msg, text ?? "");
  }

  function render(): void {
    if (forgotten) return;
    const canStop = running && run != null;
    unavailable.hidden = !(running && run == null);
    slot.hidden = false; // "Forget owner key on this device" is always offered
    stopBtn.hidden = !canStop || state === "confirming";
    confirmBox.hidden = !canStop || state !== "confirming";
    stopBtn.disabled = state === "stopping" || state === "sent";
    setText(stopBtn, state === "stopping" || state === "sent" ? "Stopping…" : "Stop training");
  }

  stopBtn.addEventListener("click", () => {
    if (run == null) return;
    state = "confirming";
    stateRun = run;
    say(null);
    render();
    yes.focus();
  });
  no.addEventListener("click", () => {
    state = "idle";
    render();
    stopBtn.focus();
  });
  yes.addEventListener("click", async () => {
    const target = stateRun;
    if (target == null || target !== run || !running) {
      // The run the question was about ended (or a new one began) meanwhile: ask again.
      state = "idle";
      render();
      return;
    }
    state = "stopping";
    say(null);
    render();
    try {
      // Create-only: the rules refuse a second write to the same run's stop. A link's key not
      // yet accepted is tried first, then the remembered one; the one accepted is kept.
      const link = linkOwnerKey(sid);
      const keys = link && link !== key ? [link, key] : [key];
      let used = keys[0];
      for (const [i, k] of keys.entries()) {
        try {
          await setDoc(doc(await db, collectionPath(sid, "control"), stopId(target)), { key: k, run: target, at: serverTimestamp() });
          used = k;
          break;
        } catch (err) {
          if (i + 1 >= keys.length || errCode(err) !== "permission-denied") throw err;
        }
      }
      if (link != null) {
        // The rules accepted `used`: it is the key from now on (a refused link key is dropped).
        acceptOwnerKey(sid, used);
        key = used;
      }
      linkNote.hidden = linkOwnerKey(sid) == null;
      state = "sent";
      stateRun = target;
      say("Stop sent. Training ends after the current batch.");
    } catch (err) {
      state = "idle";
      say(
        errCode(err) === "permission-denied"
          ? "Not stopped: the owner key was not accepted — it is wrong, or it belongs to an earlier run of this session (each run has its own key), or this run was already asked to stop or has ended. Open the owner link the notebook printed for this run (the one with #k=) and try again."
          : `Not stopped: ${(err as Error).message ?? String(err)}. Check the connection and try again.`,
        "error",
      );
    }
    render();
  });

  render();
  return {
    update(status, session) {
      running = status === "running";
      run = currentRun(session);
      const sameRun = run != null && run === stateRun;
      if ((!running || !sameRun) && (state === "sent" || state === "stopping")) {
        state = "idle";
        say(null); // the status pill says "Stopped" now, or a new run began
      }
      if ((!running || !sameRun) && state === "confirming") state = "idle";
      render();
    },
  };
}

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
