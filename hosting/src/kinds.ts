/**
 * Batch kinds and schema facts the readers share (the feed, the status card, the CSV), from
 * the contract: the batch kind a run's mode produces, system metrics' kind, schema 1.
 */
import { BATCH_KIND_OF_MODE } from "./contract";

/** The batch kind a run produces. */
export type RunKind = "train" | "test" | "predict";

export function runKind(mode: string): RunKind {
  // Any other mode (a session before its first call) is a fit's.
  return (Object.hasOwn(BATCH_KIND_OF_MODE, mode) ? BATCH_KIND_OF_MODE[mode] : BATCH_KIND_OF_MODE.fit) as RunKind;
}

/** System metrics (CPU, memory, GPU) sampled by the writer: stored like a batch kind. */
export { SYSTEM_KIND } from "./contract";

/** Documents written before sessions carried a `schema` field are schema 1. */
export const LEGACY_SCHEMA = 1;
