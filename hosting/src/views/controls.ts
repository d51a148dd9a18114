/**
 * The session page's two actions: Stop (owners only; views/stop.ts) and Notify me (anyone;
 * views/notify.ts, which the workspace page shares). Re-exported here for the session page.
 */
export { currentRun, mayStop, mountStop, type Control } from "./stop";
export { mountNotify, pushSupported, sessionNotify, workspaceNotify, type NotifyTarget } from "./notify";
