/**
 * Which secrets make this device an owner of a session's run, and in which order Stop tries
 * them (views/stop.ts). The rules accept a stop request whose key is the run's owner key, the
 * owner key of the session's workspace, or the secret D of a device enrolled for the session
 * or that workspace (firestore.rules, isSessionOwnerSecret; device.ts).
 *
 * The page cannot ask which one is valid (nothing owner-related is readable), so it keeps
 * what it learnt: a session key is known valid for a run once the rules accepted it in that
 * run (an enrolment or a Stop: owner.ts keyRun), and the device is enrolled where it enrolled
 * itself (owner.ts isEnrolled). A device knows a session's workspace only if it opened the run from the
 * workspace page (workspace-memory.ts): the session never names its workspace.
 *
 * Pure apart from reading those three stores; no Firebase (the main bundle may import it).
 */
import { deviceSecret } from "./device";
import { isEnrolled, keyRun, linkOwnerKey, ownerKey } from "./owner";
import { workspaceOfRun } from "./workspace-memory";

export type SecretKind = "run-key" | "link-key" | "workspace-key" | "device" | "old-key";

export interface OwnerFacts {
  /** The session's owner key remembered on this device, and the run it was proven in (or null). */
  key: string | null;
  keyRun: number | null;
  /** A link's key not yet accepted by the rules (owner.ts). */
  linkKey: string | null;
  /** The owner key of the workspace this device opened the run from. */
  workspaceKey: string | null;
  /** Enrolled for the session, or for the workspace this device opened the run from. */
  enrolled: boolean;
}

export interface Candidate {
  key: string;
  kind: SecretKind;
}

/** What this device holds for `sid` now. */
export function ownerFacts(sid: string): OwnerFacts {
  const wid = workspaceOfRun(sid);
  return {
    key: ownerKey(sid),
    keyRun: keyRun(sid),
    linkKey: linkOwnerKey(sid),
    workspaceKey: wid ? ownerKey(wid) : null,
    enrolled: isEnrolled(sid) || (wid != null && isEnrolled(wid)),
  };
}

/** Whether the Stop button belongs on this device's page of the session (while it runs). */
export function mayOwn(f: OwnerFacts): boolean {
  return f.key != null || f.linkKey != null || f.workspaceKey != null || f.enrolled;
}

/**
 * The secrets to try for run `run`, best first: the session key proven in this very run, the
 * workspace's key, the device's secret D (when enrolled), then keys of unknown worth (a new
 * link's key first: it is likely this run's; then the remembered key, maybe an earlier run's).
 * `device` is called only when D is wanted (it draws D on first use).
 */
export function stopCandidates(f: OwnerFacts, run: number, device: () => string = deviceSecret): Candidate[] {
  const out: Candidate[] = [];
  const add = (key: string | null, kind: SecretKind) => {
    if (key && !out.some((c) => c.key === key)) out.push({ key, kind });
  };
  if (f.keyRun === run) add(f.key, "run-key");
  add(f.workspaceKey, "workspace-key");
  if (f.enrolled) add(device(), "device");
  add(f.linkKey, "link-key");
  add(f.key, "old-key");
  return out;
}

/** What the page says when the rules refused every secret tried (`kinds`). */
export function refusalText(kinds: SecretKind[]): string {
  const parts = ["Not stopped: this device is not an owner of this run."];
  if (kinds.some((k) => k === "run-key" || k === "link-key" || k === "old-key")) {
    parts.push(
      "The owner key was not accepted — it is wrong, or it belongs to an earlier run of this session (each run has its own key) — and this device did not enrol as an owner while a key was valid.",
    );
  }
  if (kinds.includes("workspace-key")) parts.push("The workspace owner key this device holds was not accepted for this run.");
  if (kinds.includes("device")) parts.push("This device's enrolment as an owner was not accepted here.");
  parts.push("Open the owner link the notebook printed for this run (the one with #k=) and try again: this device then stays an owner of the session's later runs too.");
  return parts.join(" ");
}
