/**
 * The session page's two actions: Stop (owner link only) and Notify me (anyone).
 *
 * Stop writes `sessions/{sid}/control/stop` = `{key, at: serverTimestamp()}` after an in-page
 * confirmation (not `window.confirm`: it works the same on phones and in tests). The Python
 * writer listens to that document and ends training; the status pill turns "Stopped" from the
 * session snapshot. The rules refuse a wrong key (docs/security.md), which is said plainly.
 *
 * Notify me asks for notification permission, gets an FCM token (src/fcm.ts, loaded on
 * press) and creates `sessions/{sid}/subscribers/{sha256(token)}` =
 * `{token, created: serverTimestamp(), kind: "fcm", lang}`.
 */
import { doc, serverTimestamp, setDoc, type Firestore } from "firebase/firestore";
import { h, setText } from "../dom";
import type { FirebaseHandles } from "../firebase";
import { subscriberFields, subscriberId } from "../subscriber";

export interface Control {
  /** Called on every session snapshot with the stored status (`running`, `stopped`, ...). */
  update(status: string): void;
}

const errCode = (err: unknown) => (err as { code?: string } | null)?.code ?? "";

// ---- Stop ----------------------------------------------------------------------------------

export function mountStop(slot: HTMLElement, sid: string, key: string, db: Promise<Firestore>): Control {
  let state: "idle" | "confirming" | "stopping" | "sent" = "idle";
  let running = false;
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
  slot.replaceChildren(h("div", { class: "stop" }, stopBtn, confirmBox), msg);

  function say(text: string | null, kind: "info" | "error" = "info"): void {
    msg.hidden = text == null;
    msg.dataset.kind = kind;
    setText(msg, text ?? "");
  }

  function render(): void {
    slot.hidden = !running && state !== "stopping" && msg.hidden;
    stopBtn.hidden = !running || state === "confirming";
    confirmBox.hidden = !running || state !== "confirming";
    stopBtn.disabled = state === "stopping" || state === "sent";
    setText(stopBtn, state === "stopping" || state === "sent" ? "Stopping…" : "Stop training");
  }

  stopBtn.addEventListener("click", () => {
    state = "confirming";
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
    state = "stopping";
    say(null);
    render();
    try {
      await setDoc(doc(await db, "sessions", sid, "control", "stop"), { key, at: serverTimestamp() });
      state = "sent";
      say("Stop sent. Training ends after the current batch.");
    } catch (err) {
      state = "idle";
      say(
        errCode(err) === "permission-denied"
          ? "Not stopped: this link's owner key was not accepted. Open the owner link the notebook printed (the one with #k=) and try again."
          : `Not stopped: ${(err as Error).message ?? String(err)}. Check the connection and try again.`,
        "error",
      );
    }
    render();
  });

  render();
  return {
    update(status) {
      running = status === "running";
      if (!running && (state === "sent" || state === "stopping")) {
        state = "idle";
        say(null); // the status pill says "Stopped" now
      }
      if (!running && state === "confirming") state = "idle";
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
      const id = await subscriberId(token);
      try {
        await setDoc(doc(fb.db, "sessions", sid, "subscribers", id), {
          ...subscriberFields(token, navigator.language),
          created: serverTimestamp(),
        });
        say("You'll get a notification on this device when training finishes, crashes, stalls or the loss turns NaN.");
      } catch (err) {
        // Subscriptions are create-only: the same token again is refused. That means done.
        if (errCode(err) !== "permission-denied") throw err;
        say("This device is already subscribed to this session.");
      }
      on = true;
      remember(sid, id);
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
