/** Touch gestures on a chart: pinch to zoom the x range, one-finger pan while zoomed. */
import type uPlot from "uplot";
import type { ChartHooks } from "./charts";

/**
 * Touch: two fingers pinch the x range about their midpoint, one finger pans it while
 * zoomed. Vertical page scrolling stays the browser's (touch-action: pan-y).
 */
export function bindTouch(u: uPlot, hooks: () => ChartHooks | null, zoomed: () => boolean): () => void {
  const over = u.over;
  over.style.touchAction = "pan-y";
  let start: { x0: number; x1: number; min: number; max: number; n: number } | null = null;
  let live: [number, number] | null = null;
  const rect = () => over.getBoundingClientRect();
  const full = (): [number, number] => {
    const x = u.data[0];
    return [x[0] as number, x[x.length - 1] as number];
  };
  const onStart = (e: TouchEvent) => {
    const r = rect();
    const t = e.touches;
    const min = u.scales.x.min ?? 0;
    const max = u.scales.x.max ?? 1;
    start = t.length >= 2
      ? { x0: t[0].clientX - r.left, x1: t[1].clientX - r.left, min, max, n: 2 }
      : { x0: t[0].clientX - r.left, x1: t[0].clientX - r.left, min, max, n: 1 };
    live = null;
  };
  const onMove = (e: TouchEvent) => {
    const hk = hooks();
    if (!start || !hk) return;
    const r = rect();
    const t = e.touches;
    const span = start.max - start.min;
    const perPx = span / Math.max(1, r.width);
    let a: number;
    let b: number;
    if (start.n === 2 && t.length >= 2) {
      const d0 = Math.max(8, Math.abs(start.x1 - start.x0));
      const d1 = Math.max(8, Math.abs(t[1].clientX - t[0].clientX));
      const mid0 = (start.x0 + start.x1) / 2;
      const mid1 = (t[0].clientX + t[1].clientX) / 2 - r.left;
      const anchor = start.min + mid0 * perPx;
      const newSpan = (span * d0) / d1;
      a = anchor - (mid1 / r.width) * newSpan;
      b = a + newSpan;
      e.preventDefault();
    } else if (start.n === 1 && t.length === 1 && zoomed()) {
      const dx = t[0].clientX - r.left - start.x0;
      a = start.min - dx * perPx;
      b = start.max - dx * perPx;
      const [lo, hi] = full();
      if (a < lo) [a, b] = [lo, lo + span];
      if (b > hi) [a, b] = [hi - span, hi];
    } else return;
    live = [a, b];
    u.setScale("x", { min: a, max: b });
    hk.onZoomLive?.(a, b);
  };
  const onEnd = (e: TouchEvent) => {
    if (e.touches.length > 0 || !start) return;
    start = null;
    const hk = hooks();
    if (live && hk) {
      const [lo, hi] = full();
      const [a, b] = live;
      live = null;
      if (a <= lo && b >= hi) hk.onReset();
      else hk.onZoom(Math.max(a, lo), Math.min(b, hi));
    }
  };
  over.addEventListener("touchstart", onStart, { passive: true });
  over.addEventListener("touchmove", onMove, { passive: false });
  over.addEventListener("touchend", onEnd);
  over.addEventListener("touchcancel", onEnd);
  return () => {
    over.removeEventListener("touchstart", onStart);
    over.removeEventListener("touchmove", onMove);
    over.removeEventListener("touchend", onEnd);
    over.removeEventListener("touchcancel", onEnd);
  };
}
