/**
 * The session page's Stop (owners only) and this device's enrolment as an owner.
 *
 * Stop creates `sessions/{sid}/control/stop-{run}` = `{key, run, at: serverTimestamp()}` after
 * an in-page confirmation (not `window.confirm`: it works the same on phones and in tests),
 * where `run` is the session document's current run (a re-used callback counts its fits). The
 * rules accept it once, for the run in progress, with an owner secret; the Python writer
 * listens to the current run's document and ends training; the status pill turns "Stopped"
 * from the session snapshot. A refusal is said plainly ("this device is not an owner of this
 * run", and why) and never shown as success. A session written by an older TF Watcher has no
 * `run`: Stop is unavailable there, and the page says why.
 *
 * The owner's phone stays the owner (issue 19): every run has its own owner key, so while the
 * run is running and this device holds a key, it enrols its own secret D once, proven with the
 * key (device.ts, enrol.ts). Stop is then offered in the session's later runs too and carries
 * D. Owner secrets and the order Stop tries them: ownership.ts. A device that opened the run
 * from its workspace page with the workspace owner key (or enrolled there) is an owner as well.
 *
 * "Forget owner key on this device" (with an in-page confirmation) removes the key and the
 * device's enrolment memory for this session, and the Stop button with them.
 */
import { doc, serverTimestamp, setDoc, type Firestore } from "firebase/firestore";
import { collectionPath, sessionPath, stopId } from "../contract";
import { h, setText } from "../dom";
import { enrolWith, heldKeys } from "../enrol";
import { acceptOwnerKey, forgetOwnerKey, isEnrolled, linkOwnerKey, markEnrolled, ownerKey, setKeyRun } from "../owner";
import { mayOwn, ownerFacts, refusalText, stopCandidates, type Candidate } from "../ownership";

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

/** Whether this device may be an owner of `sid`: mount Stop only then (a viewer gets none). */
export function mayStop(sid: string): boolean {
  return mayOwn(ownerFacts(sid));
}

export function mountStop(slot: HTMLElement, sid: string, db: Promise<Firestore>, onForget?: () => void): Control {
  let state: "idle" | "confirming" | "stopping" | "sent" = "idle";
  let forgotten = false;
  let running = false;
  let run: number | null = null; // the run in progress, from the latest session snapshot
  let stateRun: number | null = null; // the run the confirmation or the sent stop is for
  let errorRun: number | null = null; // the run a refusal message is about
  let enrolling = false;
  const tried = new Set<string>(); // `${run}\n${key}`: enrolment attempts made in this page
  const refused = new Map<string, number>(); // key → the run in which its enrolment was refused

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
    { class: "control-msg", "data-owner-key-note": true, hidden: true },
    "This link's owner key is not the one this device remembers for this session. The remembered key is kept; the link's key replaces it only if it is accepted (a wrong key, or one from an earlier run, is refused).",
  );
  const unavailable = h(
    "p",
    { class: "control-msg", "data-stop-unavailable": true, hidden: true },
    "Stop is unavailable for this session: it was started by an older TF Watcher. Update the tfwatcher package to stop runs from here.",
  );
  // Forget the key on this device: whatever the status (a finished run's key too); offered
  // where this device holds a key of the session or enrolled in it (a workspace's owner
  // forgets it on the home page).
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
    const canStop = running && run != null && mayStop(sid);
    unavailable.hidden = !(running && run == null);
    linkNote.hidden = linkOwnerKey(sid) == null;
    slot.hidden = false;
    if (forgetBox.hidden) forgetBtn.hidden = !(ownerKey(sid) != null || linkOwnerKey(sid) != null || isEnrolled(sid));
    stopBtn.hidden = !canStop || state === "confirming";
    confirmBox.hidden = !canStop || state !== "confirming";
    stopBtn.disabled = state === "stopping" || state === "sent";
    if (run != null) stopBtn.dataset.run = String(run);
    setText(stopBtn, state === "stopping" || state === "sent" ? "Stopping…" : "Stop training");
  }

  /** The rules accepted session key `key` in run `r`: it is the remembered key, proven in r. */
  function proven(key: string, r: number): void {
    acceptOwnerKey(sid, key); // a different link key (refused, or never needed) is dropped
    setKeyRun(sid, r);
  }

  /** Enrol this device with a session key it holds, once, while the run is running. */
  async function enrol(): Promise<void> {
    const r = run;
    if (!running || r == null || enrolling || forgotten || isEnrolled(sid)) return;
    const keys = heldKeys(sid).filter((k) => !tried.has(`${r}\n${k}`));
    if (!keys.length) return;
    enrolling = true;
    for (const k of keys) tried.add(`${r}\n${k}`);
    try {
      const used = await enrolWith(await db, sid, sessionPath(sid), keys);
      // An accepted link key becomes the remembered one; the remembered key accepted leaves
      // a different link key to Stop (which drops it once a session key is accepted).
      if (used != null && used === linkOwnerKey(sid)) proven(used, r);
      else if (used != null) setKeyRun(sid, r);
      else for (const k of keys) refused.set(k, r); // a key of an earlier run, or enrolled already
    } catch {
      for (const k of keys) tried.delete(`${r}\n${k}`); // offline or unreachable: tried again later
    } finally {
      enrolling = false;
      render();
    }
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
    const candidates = stopCandidates(ownerFacts(sid), target);
    try {
      // Create-only: the rules refuse a second write to the same run's stop, so the secrets
      // are tried one by one, best first, until one is accepted.
      let used: Candidate | null = null;
      for (const c of candidates) {
        try {
          await setDoc(doc(await db, collectionPath(sid, "control"), stopId(target)), { key: c.key, run: target, at: serverTimestamp() });
          used = c;
          break;
        } catch (err) {
          if (errCode(err) !== "permission-denied") throw err;
        }
      }
      if (used == null) {
        state = "idle";
        errorRun = target;
        say(refusalText(candidates.map((c) => c.kind)), "error");
      } else {
        if (used.kind !== "workspace-key" && used.kind !== "device") {
          proven(used.key, target);
          // Its enrolment was refused in this very run although the key is valid: the
          // device's enrolment exists already (made earlier, then forgotten here).
          if (refused.get(used.key) === target && !isEnrolled(sid)) markEnrolled(sid, "");
        }
        state = "sent";
        stateRun = target;
        say("Stop sent. Training ends after the current batch.");
      }
    } catch (err) {
      state = "idle";
      errorRun = target;
      say(`Not stopped: ${(err as Error).message ?? String(err)}. Check the connection and try again.`, "error");
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
      // A refusal is about its run: gone when that run has ended or another began.
      if (errorRun != null && (!running || run !== errorRun) && state === "idle") {
        errorRun = null;
        say(null);
      }
      render();
      void enrol();
    },
  };
}
