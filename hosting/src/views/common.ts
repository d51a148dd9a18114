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

/**
 * One render per animation frame however many snapshots arrive, and a render when the browser
 * goes on- or offline (the banner says which). `stop()` when the view is disposed: it cancels a
 * queued frame and nothing is queued after it.
 */
export function frameRenderer(render: () => void): { queue: () => void; stop: () => void } {
  let queued = 0;
  let stopped = false;
  const queue = (): void => {
    if (queued || stopped) return;
    queued = requestAnimationFrame(() => {
      queued = 0;
      render();
    });
  };
  window.addEventListener("online", queue);
  window.addEventListener("offline", queue);
  return {
    queue,
    stop() {
      stopped = true;
      if (queued) cancelAnimationFrame(queued);
      window.removeEventListener("online", queue);
      window.removeEventListener("offline", queue);
    },
  };
}

/**
 * The full-page state slot of `main`: shows `el` (null: none) in place of the one shown before;
 * `hideContent` hides the page's own content while a state is shown.
 */
export function stateSlot(main: HTMLElement, hideContent: (hidden: boolean, shown: HTMLElement | null) => void): (el: HTMLElement | null) => void {
  let shown: HTMLElement | null = null;
  return (el) => {
    if (shown === el) return;
    shown?.remove();
    shown = el;
    hideContent(el != null, el);
    if (el) main.appendChild(el);
  };
}
