/**
 * The config diff of a comparison (views/compare.ts): each hyperparameter once, a value per
 * run; the keys whose values differ first, the rest folded away (as W&B's run comparer).
 */
import { h } from "./dom";
import { formatConfigValue } from "./format";
import type { ConfigEntry } from "./status";

/** One key: what each run has (null: the run has no such key). */
export interface ConfigRow {
  name: string;
  values: (string | null)[];
}

/** Keys in first-seen order (run 1 first), split into those that differ between runs and the rest. */
export function configDiff(configs: readonly (readonly ConfigEntry[])[]): { differ: ConfigRow[]; same: ConfigRow[] } {
  const rows = new Map<string, ConfigRow>();
  // Typed, so 1 and "1" differ though they read alike.
  const typed = new Map<string, (string | null)[]>();
  configs.forEach((cfg, run) => {
    for (const e of cfg) {
      let row = rows.get(e.name);
      if (!row) {
        row = { name: e.name, values: configs.map(() => null) };
        rows.set(e.name, row);
        typed.set(e.name, configs.map(() => null));
      }
      row.values[run] = formatConfigValue(e.value);
      typed.get(e.name)![run] = `${e.value === null ? "null" : typeof e.value}:${row.values[run]}`;
    }
  });
  const differ: ConfigRow[] = [];
  const same: ConfigRow[] = [];
  for (const row of rows.values()) {
    const t = typed.get(row.name)!;
    (t.every((v) => v === t[0]) ? same : differ).push(row);
  }
  return { differ, same };
}

/** A run's column head in the config table. */
export interface ConfigRun {
  label: string;
  color: string;
}

/** The config section: differing keys in a table, the others in a folded one; null when no run has a config. */
export function configSection(runs: readonly ConfigRun[], configs: readonly (readonly ConfigEntry[])[]): HTMLElement | null {
  const { differ, same } = configDiff(configs);
  if (!differ.length && !same.length) return null;
  const table = (rows: ConfigRow[], kind: string) =>
    h(
      "table",
      { class: "values config-diff", "data-config": kind },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Key"),
          ...runs.map((r) => {
            const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
            swatch.style.background = r.color;
            return h("th", { scope: "col" }, swatch, h("span", { class: "clamp", title: r.label }, r.label));
          }),
        ),
      ),
      h(
        "tbody",
        {},
        ...rows.map((row) =>
          h(
            "tr",
            { "data-config-name": row.name },
            h("th", { scope: "row" }, h("span", { class: "clamp", title: row.name }, row.name)),
            ...row.values.map((v) =>
              h("td", { class: v == null ? "missing" : "" }, h("span", { class: "clamp", title: v ?? "not set" }, v ?? "—")),
            ),
          ),
        ),
      ),
    );
  const n = (k: number) => `${k} ${k === 1 ? "key" : "keys"}`;
  return h(
    "section",
    { class: "card compare-config", "aria-label": "Config" },
    h("h2", {}, "Config"),
    differ.length
      ? table(differ, "differ")
      : h("p", { class: "muted", "data-config": "none-differ" }, `All ${n(same.length)} are the same in every run.`),
    same.length
      ? h("details", { class: "fold" }, h("summary", {}, `${n(same.length)} with the same value in every run`), table(same, "same"))
      : null,
  );
}
