/**
 * A hidden page costs nothing (docs/dashboard.md): once the page has been hidden for longer
 * than `ATTENTION.hidden_detach_seconds`, `detach()` is called (the session page then drops
 * every Firestore listener); when the page is shown again, `attach()` (listeners re-attached
 * from what the page holds). A shorter hide changes nothing. Pure apart from the timer and
 * the document it is given, so tests drive it with fake timers and a stand-in document.
 */

/** What the watcher needs of `document`. */
export interface VisibilitySource {
  readonly visibilityState: string;
  addEventListener(type: "visibilitychange", fn: () => void): void;
  removeEventListener(type: "visibilitychange", fn: () => void): void;
}

export interface VisibilityWatch {
  /** True between a detach and the next attach. */
  readonly detached: boolean;
  /** Stops watching (no further calls; a detached page stays detached). */
  stop(): void;
}

/**
 * Calls `detach` once the page has been hidden for `afterMs`, and `attach` when it is shown
 * again after a detach. Each detach is followed by exactly one attach (or by stop()).
 */
export function watchVisibility(
  doc: VisibilitySource,
  afterMs: number,
  detach: () => void,
  attach: () => void,
): VisibilityWatch {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let detached = false;
  let stopped = false;
  const clear = () => {
    if (timer != null) clearTimeout(timer);
    timer = null;
  };
  const onChange = () => {
    if (stopped) return;
    if (doc.visibilityState === "hidden") {
      if (detached || timer != null) return;
      timer = setTimeout(() => {
        timer = null;
        if (stopped || detached || doc.visibilityState !== "hidden") return;
        detached = true;
        detach();
      }, afterMs);
    } else {
      clear();
      if (!detached) return;
      detached = false;
      attach();
    }
  };
  doc.addEventListener("visibilitychange", onChange);
  onChange(); // a page opened in a background tab starts its countdown at once
  return {
    get detached() {
      return detached;
    },
    stop() {
      stopped = true;
      clear();
      doc.removeEventListener("visibilitychange", onChange);
    },
  };
}
