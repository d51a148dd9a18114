/** Full-page states (not found, malformed, denied, offline) and the toast. */
import { h } from "../dom";

export type StateKind = "missing" | "malformed" | "denied" | "offline" | "error" | "newer" | "notFound";

export function messageState(kind: StateKind, title: string, detail: string, ...extra: Node[]): HTMLElement {
  return h(
    "section",
    { class: "card state", "data-state": kind, role: "alert" },
    h("h1", {}, title),
    h("p", {}, detail),
    ...extra,
    h("p", {}, h("a", { href: "/", "data-link": true }, "Open another session")),
  );
}

let toastTimer = 0;
export function toast(text: string): void {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    el.hidden = true;
  }, 2500);
}
