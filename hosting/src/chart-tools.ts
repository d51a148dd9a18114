/** The tools above a view's charts: smoothing, log scale, x axis, reset zoom. */
import { h } from "./dom";
import type { XMode } from "./charts";

export interface ToolState {
  smooth: number;
  log: boolean;
  xMode: XMode;
}
const SMOOTH_KEY = "tfw:smooth";
export const X_LABELS: Record<XMode, string> = { step: "Step", epoch: "Epoch", relative: "Relative time", wall: "Wall time" };

export function savedSmoothing(): number {
  try {
    const v = Number(localStorage.getItem(SMOOTH_KEY));
    return Number.isFinite(v) ? Math.min(Math.max(v, 0), 0.99) : 0;
  } catch {
    return 0;
  }
}

export interface Tools {
  el: HTMLElement;
  setZoomed(zoomed: boolean): void;
  setXMode(mode: XMode): void;
}

export function buildTools(state: ToolState, onChange: (s: Partial<ToolState>) => void, onReset: () => void): Tools {
  const out = h("output", { class: "smooth-value" }, state.smooth.toFixed(2));
  const slider = h("input", {
    type: "range", min: 0, max: 0.99, step: 0.01, value: String(state.smooth), "aria-label": "Smoothing", "data-tool": "smooth",
  });
  slider.addEventListener("input", () => {
    const v = Math.min(Math.max(Number(slider.value) || 0, 0), 0.99);
    out.textContent = v.toFixed(2);
    try {
      localStorage.setItem(SMOOTH_KEY, String(v));
    } catch {
      /* private mode */
    }
    onChange({ smooth: v });
  });
  const log = h("button", { type: "button", class: "secondary", "aria-pressed": String(state.log), "data-tool": "log" }, "Log y");
  log.addEventListener("click", () => {
    const v = log.getAttribute("aria-pressed") !== "true";
    log.setAttribute("aria-pressed", String(v));
    onChange({ log: v });
  });
  const xSel = h("select", { "aria-label": "X axis", "data-tool": "x" },
    ...(Object.keys(X_LABELS) as XMode[]).map((m) => h("option", { value: m }, X_LABELS[m])));
  xSel.value = state.xMode;
  xSel.addEventListener("change", () => onChange({ xMode: xSel.value as XMode }));
  const reset = h("button", { type: "button", class: "secondary", hidden: true, "data-tool": "reset-zoom" }, "Reset zoom");
  reset.addEventListener("click", onReset);
  const el = h("div", { class: "chart-tools" },
    h("label", { class: "smooth" }, "Smoothing ", slider, out), log, xSel, reset);
  return {
    el,
    setZoomed: (z) => {
      reset.hidden = !z;
    },
    setXMode: (m) => {
      xSel.value = m;
    },
  };
}
