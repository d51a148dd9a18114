/**
 * Document IDs read back: which kind a chunk or head ID belongs to, which collection an ID
 * lives in, and the ID-range bounds of a kind's chunks. Built from the contract's templates
 * (hosting/src/contract.ts), so no ID format is spelled here.
 */
import { CONTRACT, chunkId, fill, summaryHeadId } from "./contract";

const DOCS = CONTRACT.documents;
/** Sorts after every ID character Firestore uses: the end of a prefix range. */
export const ID_RANGE_END = "\uf8ff";

/** A contract template as an anchored pattern: `{kind}` → lower-case letters, other fields → digits. */
export function idPattern(template: string): RegExp {
  const parts = template.split(/(\{\w+(?::0\d+)?\})/);
  const src = parts
    .map((p) => {
      const m = /^\{(\w+)(?::0\d+)?\}$/.exec(p);
      if (!m) return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return m[1] === "kind" ? "(?<kind>[a-z]+)" : `(?<${m[1]}>\\d+)`;
    })
    .join("");
  return new RegExp(`^${src}$`);
}

/** The fixed start of a template's IDs up to its first numbered field (`{kind}` filled in). */
export function idPrefix(template: string, kind = ""): string {
  const cut = template.search(/\{(?!kind\})\w+(?::0\d+)?\}/);
  return fill(cut < 0 ? template : template.slice(0, cut), { kind });
}

const CHUNK = idPattern(DOCS.chunk);
const HEAD = idPattern(DOCS.summary_head);
const PART = idPattern(DOCS.summary_part);

/** The kind of a chunk ID, or `fallback` for an ID that is not one. */
export function kindOfChunk(id: string, fallback: string): string {
  return CHUNK.exec(id)?.groups?.kind ?? fallback;
}

/** The kind of a summary head ID (the ID itself when it is not a head's). */
export function kindOfHead(id: string): string {
  return HEAD.exec(id)?.groups?.kind ?? id;
}

/** Summary part IDs live in `summaries/`, chunk IDs in `batches/`. */
export const isSummaryPartId = (id: string): boolean => PART.test(id);

/** Epoch table parts (`tables/`): IDs starting as the contract's table part IDs do. */
export const isTablePartId = (id: string): boolean => id.startsWith(idPrefix(DOCS.table_part));

/** ID-range bounds [first, last] of a kind's chunks from chunk `from` on. */
export function chunkRange(kind: string, from = 0): [string, string] {
  return [chunkId(kind, from), idPrefix(DOCS.chunk, kind) + ID_RANGE_END];
}

export { summaryHeadId };
