/**
 * The session page's text panels: the status card (from session-model's statusCard), the
 * latest values, what was run (config and versions) and the evaluation/prediction records.
 * Each writes only when what it shows changed (a signature in `data-sig`).
 */
import { EPOCH_KINDS } from "../contract";
import { h, setText } from "../dom";
import type { EpochDoc } from "../series";
import { formatConfigValue, formatValue, runKind, type SessionInfo } from "../status";
import { middleCut } from "../chart-format";
import { visibleText } from "../visible";
import type { StatusCard } from "./session-model";
import type { SessionShell } from "./session-shell";

const TRAIN = runKind("fit");

export function renderStatusCard(shell: SessionShell, card: StatusCard): void {
  const { statusPill, errorBox, bar, barWrap, fields, labels } = shell;
  statusPill.dataset.status = card.status;
  statusPill.dataset.nan = String(card.nan);
  setText(statusPill, card.label);
  errorBox.hidden = card.error == null;
  if (card.error != null) setText(errorBox, card.error);
  setText(labels.epoch, card.epochLabel);
  setText(labels.step, card.stepLabel);
  setText(fields.epoch, card.epoch);
  setText(fields.step, card.step);
  bar.style.width = `${card.pct}%`;
  barWrap.setAttribute("aria-valuenow", String(card.pct));
  setText(fields.elapsed, card.elapsed);
  setText(fields.eta, card.eta);
  setText(fields.age, card.age);
}

/** `latest`: the values to show (session-model's latestValues: as new as the charts). */
export function renderLatest(shell: SessionShell, i: SessionInfo, latest = i.latest): void {
  renderConfig(shell, i);
  const { latestBody } = shell;
  const sig = latest.map((l) => `${l.name}=${l.value}`).join("\u0000");
  if (latestBody.dataset.sig === sig) return;
  latestBody.dataset.sig = sig;
  // Long names cut in the middle, keeping the end that tells them apart (all of it in
  // `title` and on a tap); values never break.
  const rows = latest.map((l) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, cutName(l.name)),
      h("td", { class: l.value != null && !Number.isFinite(l.value) ? "num bad" : "num" }, formatValue(l.value)),
    ),
  );
  latestBody.replaceChildren(...rows);
}

/** A name cut in the middle where long; a tap (session-shell) shows the whole of it. */
export function cutName(name: string, max = 40): HTMLElement {
  const short = middleCut(name, max);
  return short === name
    ? h("span", { class: "clamp", title: name }, name)
    : h("span", { class: "clamp midcut", title: name, "data-full": name, "data-short": short }, short);
}

/** What was run: `config` (hyperparameters; text shown as text) and the library versions. */
function renderConfig(shell: SessionShell, i: SessionInfo): void {
  const { config, configBody, versionsEl } = shell;
  const first = ["tfwatcher", "python", "tensorflow", "keras"];
  const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
  const versions = Object.entries(i.versions)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(" · ");
  const sig = JSON.stringify([i.config, versions]);
  if (config.dataset.sig === sig) return;
  config.dataset.sig = sig;
  config.hidden = i.config.length === 0 && !versions;
  configBody.parentElement!.hidden = i.config.length === 0;
  configBody.replaceChildren(
    ...i.config.map((c) =>
      h(
        "tr",
        { "data-config-name": c.name },
        h("th", { scope: "row" }, h("span", { class: "clamp", title: c.name }, c.name)),
        h(
          "td",
          { class: typeof c.value === "number" ? "num" : "text", "data-type": c.value === null ? "null" : typeof c.value },
          h("span", { class: "clamp", title: formatConfigValue(c.value) }, formatConfigValue(c.value)),
        ),
      ),
    ),
  );
  versionsEl.hidden = !versions;
  setText(versionsEl, versions ? `Versions: ${versions}` : "");
}

/** Evaluate and predict records, below the charts. */
export function renderEvals(shell: SessionShell, epochs: Iterable<EpochDoc>): void {
  const { evals } = shell;
  const docs = [...epochs].filter((d) => d.kind != null && d.kind !== TRAIN && EPOCH_KINDS.includes(d.kind));
  evals.hidden = docs.length === 0;
  if (!docs.length) return;
  docs.sort((a, b) => (a.kind ?? "").localeCompare(b.kind ?? "") || (a.epoch ?? 0) - (b.epoch ?? 0));
  evals.replaceChildren(
    h("h2", {}, "Evaluation and prediction"),
    ...docs.map((d) => {
      const names = Array.isArray(d.names) ? d.names : [];
      const values = Array.isArray(d.values) ? d.values : [];
      const parts = names.map((n, j) => `${visibleText(String(n))} ${formatValue(typeof values[j] === "number" ? values[j] : null)}`);
      return h("p", {}, h("strong", {}, `${d.kind} #${d.epoch}: `), parts.join(" · ") || "no values");
    }),
  );
}
