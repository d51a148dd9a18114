/**
 * The data contract, `tfwatcher/base/contract.json`, imported at build time: document paths
 * and IDs, kinds, statuses, the schema version, summary levels and the stall rule. The Python
 * package and the Cloud Functions read the same file; nothing here spells its values again.
 */
import contract from "../../tfwatcher/base/contract.json";

export const CONTRACT = contract;

export const SCHEMA: number = contract.schema;
export const COLLECTIONS = contract.collections;
export const BATCH_KINDS: string[] = contract.kinds.batch;
export const EPOCH_KINDS: string[] = contract.kinds.epoch;
export const BATCH_KIND_OF_MODE: Record<string, string> = contract.kinds.batch_kind_of_mode;
/** The writer's CPU/memory/GPU samples: batch-like, but never a training kind. */
export const SYSTEM_KIND: string = contract.kinds.system;
export const STATUSES: string[] = contract.statuses.stored;
export const ENDED_STATUSES: string[] = contract.statuses.ended;
export const ACTIVE_STATUSES: string[] = contract.statuses.active;
export const SUMMARY_WIDTHS: number[] = contract.summaries.widths;
export const PART_BUCKETS: number = contract.summaries.part_buckets;
export const RAW_THROUGH: number = contract.summaries.raw_through;
export const TABLE_ROWS: number = contract.tables.rows;
export const HEARTBEAT_MS: number = contract.stall.heartbeat_seconds * 1000;
export const STALL_SHOWN_AFTER_MS: number = contract.stall.shown_after_seconds * 1000;
/** The session document's field declaring its current heartbeat period, in seconds. */
export const HEARTBEAT_FIELD: string = contract.stall.declared_field;
export const MISSED_HEARTBEATS: number = contract.stall.missed_heartbeats;
export const ATTENTION = contract.attention;

/** Milliseconds of silence after which a running session counts as stalled. */
export function stallAfterMs(declaredSeconds: unknown, floorMs = STALL_SHOWN_AFTER_MS): number {
  const ok = typeof declaredSeconds === "number" && Number.isFinite(declaredSeconds) && declaredSeconds > 0;
  const period = ok ? (declaredSeconds as number) * 1000 : HEARTBEAT_MS;
  return Math.max(floorMs, MISSED_HEARTBEATS * period);
}

/** `{name}` and zero-padded `{name:0N}` fields of a contract template, filled in. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)(?::0(\d+))?\}/g, (_m, name: string, pad?: string) => {
    const v = String(values[name]);
    return pad ? v.padStart(Number(pad), "0") : v;
  });
}

const DOCS = contract.documents;
export const chunkId = (kind: string, index: number) => fill(DOCS.chunk, { kind, index });
export const epochId = (kind: string, epoch: number) =>
  fill(kind === "train" ? DOCS.train_epoch : DOCS.other_epoch, { kind, epoch });
export const tablePartId = (part: number) => fill(DOCS.table_part, { part });
export const summaryPartId = (kind: string, level: number, part: number) => fill(DOCS.summary_part, { kind, level, part });
export const summaryHeadId = (kind: string) => fill(DOCS.summary_head, { kind });
export const stopId = (run: number) => fill(DOCS.stop, { run });
export const presenceId = () => DOCS.presence;

/** `sessions/{sid}`, and a collection under it by its contract key (epochs, batches, ...). */
export const sessionPath = (sid: string) => `${COLLECTIONS.sessions}/${sid}`;
export const collectionPath = (sid: string, collection: keyof typeof COLLECTIONS) => `${sessionPath(sid)}/${COLLECTIONS[collection]}`;
