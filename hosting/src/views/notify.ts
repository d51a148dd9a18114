/**
 * "Notify me", for a session (`sessions/{sid}`: that session's runs, shown while it runs) or a
 * workspace (`workspaces/{wid}`: every run of it; a workspace never ends, so always shown).
 * One module for both: the parent document is passed in, and the rules hold both to the same
 * shapes and caps (firestore.rules, docs/security.md).
 *
 * It asks for notification permission, gets an FCM token (src/fcm.ts, loaded on press) and
 * creates a subscription (src/subscriber.ts): where this device holds an owner secret
 * (owner-proofs.ts: an owner key, or its own enrolment as an owner) the owner's
 * `subscribers/o-{...}`, always notified; otherwise a viewer's `subscribers/{sha256(token)}`
 * together with the step of `counters/subscribers`, of which a parent takes at most the cap.
 */
import { doc, getDocFromServer, serverTimestamp, writeBatch, type Firestore } from "firebase/firestore";
import { COLLECTIONS, CONTRACT, sessionPath } from "../contract";
import { h, setText } from "../dom";
import type { FirebaseHandles } from "../firebase";
import { sessionOwnerProofs, workspaceOwnerProofs, type OwnerProof } from "../owner-proofs";
import {
  MAX_OWNERS,
  MAX_VIEWERS,
  counterValue,
  isWellFormedToken,
  ownerSubscriberId,
  subscriberFields,
  subscriberId,
} from "../subscriber";
import { currentRun, type Control } from "./stop";

/** Who is subscribed to: its document path, and how the page speaks of it. */
export interface NotifyTarget {
  /** `sessions/{sid}` or `workspaces/{wid}`. */
  parent: string;
  /** The session or workspace ID (this device remembers its subscription per ID). */
  id: string;
  what: "session" | "workspace";
  /** Shown whatever the status (a workspace), or only while the session runs. */
  always: boolean;
  maxViewers: number;
  maxOwners: number;
  /** The owner secrets to try for the run in progress (null: unknown), best first. */
  ownerProofs(run: number | null): Promise<OwnerProof[]>;
}

export function sessionNotify(sid: string): NotifyTarget {
  return {
    parent: sessionPath(sid), id: sid, what: "session", always: false, maxViewers: MAX_VIEWERS, maxOwners: MAX_OWNERS,
    ownerProofs: (run) => sessionOwnerProofs(sid, run),
  };
}

/** `ready`: settles once the page's enrolment attempt did (enrol.ts), so a key it proved counts as known. */
export function workspaceNotify(wid: string, ready: Promise<unknown> = Promise.resolve()): NotifyTarget {
  return {
    parent: `${COLLECTIONS.workspaces}/${wid}`, id: wid, what: "workspace", always: true,
    maxViewers: CONTRACT.workspaces.max_viewers, maxOwners: CONTRACT.workspaces.max_owners,
    ownerProofs: async () => {
      await ready.catch(() => undefined);
      return workspaceOwnerProofs(wid);
    },
  };
}

const errCode = (err: unknown) => (err as { code?: string } | null)?.code ?? "";

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

function remembered(id: string): boolean {
  try {
    return localStorage.getItem(SUBSCRIBED + id) != null;
  } catch {
    return false;
  }
}

function remember(id: string, subId: string): void {
  try {
    localStorage.setItem(SUBSCRIBED + id, subId);
  } catch {
    /* private mode: fine */
  }
}

export function mountNotify(slot: HTMLElement, target: NotifyTarget, firebase: () => Promise<FirebaseHandles>): Control {
  let running = false;
  let run: number | null = null;
  let busy = false;
  let on = remembered(target.id);
  const what = target.what;
  const btn = h("button", { type: "button", class: "secondary", "data-action": "notify" }, "Notify me");
  const msg = h("p", { class: "control-msg", "data-notify-message": true, "aria-live": "polite", hidden: true });
  slot.replaceChildren(btn, msg);

  function say(text: string | null, kind: "info" | "error" = "info"): void {
    msg.hidden = text == null;
    msg.dataset.kind = kind;
    setText(msg, text ?? "");
  }

  function render(): void {
    const shown = target.always || running;
    slot.hidden = !shown && msg.hidden;
    btn.hidden = !shown;
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
      const proofs = await target.ownerProofs(run);
      const outcome = proofs.length ? await subscribeOwner(fb.db, target, proofs, token) : await subscribeViewer(fb.db, target, token);
      if (outcome.kind === "full") {
        say(
          proofs.length
            ? `This ${what} already has ${target.maxOwners} owner devices subscribed, the most it takes.`
            : `This ${what} already has ${target.maxViewers} subscribers, the most it takes. The owner (from the owner link) can still subscribe.`,
          "error",
        );
        return;
      }
      if (outcome.kind === "refused") {
        say(
          what === "session"
            ? "Not subscribed as the owner: this device is subscribed already, or the owner key it holds is not valid for this run (each run has its own key) and the device did not enrol as an owner while a key was valid. Open this run's owner link (the one with #k=) and try again."
            : "Not subscribed as the owner: this device is subscribed already, or the owner key it holds is not this workspace's. Open the workspace's owner link (the one with #k=) and try again.",
          "error",
        );
        return;
      }
      say(
        outcome.kind === "created"
          ? what === "session"
            ? "You'll get a notification on this device when training finishes, crashes, stalls or the loss turns NaN."
            : "You'll get a notification on this device when any run of this workspace finishes, crashes, stalls or its loss turns NaN."
          : `This device is already subscribed to this ${what}.`,
      );
      on = true;
      remember(target.id, outcome.id);
    } catch (err) {
      say(`Couldn't turn on notifications: ${(err as Error).message ?? String(err)}`, "error");
    } finally {
      busy = false;
      render();
    }
  });

  render();
  return {
    update(status, session) {
      running = status === "running";
      run = currentRun(session);
      render();
    },
  };
}

type Subscribed = { kind: "created" | "exists"; id: string } | { kind: "full" } | { kind: "refused" };

const subscription = (token: string, device: string | null = null) => ({
  ...subscriberFields(token, navigator.language, device),
  created: serverTimestamp(),
});

/**
 * The owner's subscription, counted on `counters/owners` (at most the owners' cap, so a leaked
 * key cannot crowd the owner's devices out): each proof in turn until one is accepted. A
 * refusal of a known proof is "subscribed already"; of every proof, none known: "refused".
 */
async function subscribeOwner(db: Firestore, target: NotifyTarget, proofs: OwnerProof[], token: string): Promise<Subscribed> {
  for (const p of proofs) {
    const id = await ownerSubscriberId(p.secret, token);
    const out = await subscribeCounted(db, target.parent, id, subscription(token, p.device), "owners", target.maxOwners);
    if (out.kind !== "exists" || p.known) return out;
  }
  return { kind: "refused" };
}

/** A viewer's subscription, counted on `counters/subscribers` (at most the viewers' cap). */
async function subscribeViewer(db: Firestore, target: NotifyTarget, token: string): Promise<Subscribed> {
  return subscribeCounted(db, target.parent, await subscriberId(token), subscription(token), "subscribers", target.maxViewers);
}

/**
 * The subscription and its counter's step in one batch. When another device took the same
 * step first the batch is refused and the counter has moved: read it and try again. Refused
 * with the counter unchanged: this device's document exists already (or, for an owner's, its
 * secret was not accepted). Refused with the counter one step on, naming this subscription:
 * this batch was applied (its resend was what the rules refused).
 */
async function subscribeCounted(
  db: Firestore, parent: string, id: string, data: Record<string, unknown>, name: string, max: number,
): Promise<Subscribed> {
  const counter = doc(db, parent, COLLECTIONS.counters, name);
  for (let attempt = 0; attempt < 5; attempt++) {
    const n = counterValue((await getDocFromServer(counter)).data());
    if (n >= max) return { kind: "full" };
    const batch = writeBatch(db);
    batch.set(doc(db, parent, COLLECTIONS.subscribers, id), data);
    batch.set(counter, { n: n + 1, last: id });
    try {
      await batch.commit();
      return { kind: "created", id };
    } catch (err) {
      if (errCode(err) !== "permission-denied") throw err;
      const after = (await getDocFromServer(counter)).data();
      const now = counterValue(after);
      // The step names this very subscription: the batch was applied, and the refusal came
      // from the SDK sending it again (after a lost acknowledgement) to create-only rules.
      if (now === n + 1 && (after as { last?: unknown } | undefined)?.last === id) return { kind: "created", id };
      if (now === n) return { kind: "exists", id };
    }
  }
  throw new Error("too many people are subscribing at once; try again");
}
