// Stand-ins for the browser objects the unit tests need (shared by several test files).
import type { VisibilitySource } from "../src/visibility";

/** A Storage like the browser's (what owner.ts and device.ts use of it). */
export class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  get length() {
    return this.m.size;
  }
}

/** A stand-in for `document`: a visibility state and its change listeners. */
export class FakeDoc implements VisibilitySource {
  visibilityState = "visible";
  private fns = new Set<() => void>();
  addEventListener(_t: "visibilitychange", fn: () => void) {
    this.fns.add(fn);
  }
  removeEventListener(_t: "visibilitychange", fn: () => void) {
    this.fns.delete(fn);
  }
  get listeners() {
    return this.fns.size;
  }
  set(state: "visible" | "hidden") {
    this.visibilityState = state;
    for (const fn of [...this.fns]) fn();
  }
}
