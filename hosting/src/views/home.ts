/** `/`: enter a session ID, reopen a recent one, install the app. */
import { h, clear, setText } from "../dom";
import { checkSid, displaySid, SID_LEGACY_LENGTH, SID_LENGTH } from "../sid";
import { sessionPath, workspacePath } from "../router";
import { checkWid, displayWid, looksLikeWid } from "../wid";
import { forgetWorkspaces, lastWorkspace } from "../workspace-memory";
import { MAX_COMPARE, comparePath } from "../compare-model";
import { forgetOwnerKey, hasOwnerKey } from "../owner";
import { forgetAll, loadRecent, recentMeta } from "../recent";
import { canPrompt, isIos, isStandalone, onInstallChange, promptInstall } from "../install";
import { visibleText } from "../visible";
import { formatAge } from "../format";

export function mountHome(root: HTMLElement, navigate: (path: string) => void, initialError?: { sid: string; message: string }): () => void {
  const input = h("input", {
    id: "sid",
    name: "sid",
    type: "text",
    inputmode: "text",
    autocomplete: "off",
    autocapitalize: "none",
    autocorrect: "off",
    spellcheck: "false",
    maxlength: 512, // a pasted share or owner link is accepted too
    placeholder: "e.g. x7kq2m-9hfw4c-pd3ntr",
    "aria-describedby": "sid-help sid-error",
  });
  const error = h("p", { id: "sid-error", class: "field-error", role: "alert" });
  const form = h(
    "form",
    { class: "card open-form", novalidate: true },
    h("label", { for: "sid" }, "Session ID"),
    h("div", { class: "row" }, input, h("button", { type: "submit" }, "Open")),
    h("p", { id: "sid-help", class: "muted" }, `The ${SID_LENGTH}-character ID your notebook printed when training started (older ones: ${SID_LEGACY_LENGTH}), with or without dashes, or its link. A workspace ID or link opens the workspace.`),
    error,
  );
  if (initialError) {
    input.value = initialError.sid;
    error.textContent = initialError.message;
    input.setAttribute("aria-invalid", "true");
  }
  input.addEventListener("input", () => {
    // Lower-case a typed ID as it is typed; never a pasted link (an owner key is case-sensitive).
    const lower = input.value.toLowerCase();
    if (lower !== input.value && !input.value.includes("/")) {
      const pos = input.selectionStart;
      input.value = lower;
      if (pos != null) input.setSelectionRange(pos, pos);
    }
    error.textContent = "";
    input.removeAttribute("aria-invalid");
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (looksLikeWid(input.value)) {
      const w = checkWid(input.value);
      if (w.ok) return navigate(workspacePath(w.wid) + (w.key ? `#k=${encodeURIComponent(w.key)}` : ""));
    }
    const r = checkSid(input.value);
    if (!r.ok) {
      error.textContent = r.message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    // An owner link keeps its key in the fragment, where main.ts picks it up (owner.ts).
    navigate(sessionPath(r.sid) + (r.key ? `#k=${encodeURIComponent(r.key)}` : ""));
  });

  // The last workspace opened here, first (the installed app opens on it: main.ts).
  const lastWid = lastWorkspace();
  const workspaceBox = lastWid
    ? h(
        "section",
        { class: "card home-workspace", "aria-labelledby": "workspace-h" },
        h("h2", { id: "workspace-h" }, "Your workspace"),
        h("p", {}, h("a", { href: workspacePath(lastWid), "data-link": true, "data-workspace": lastWid }, h("span", { class: "sid" }, displayWid(lastWid)))),
        h(
          "div",
          { class: "recent-actions" },
          h("span", { class: "muted" }, "Every run that joins it, live."),
          h("button", { type: "button", class: "link", onclick: () => { forgetWorkspaces(); forgetOwnerKey(lastWid); workspaceBox?.remove(); } }, "Forget"),
        ),
      )
    : null;

  const recentBox = h("section", { class: "card recent", "aria-labelledby": "recent-h" });
  // Compare: tick two to five recent sessions, then "Compare selected" (views/compare.ts).
  const picked = new Set<string>();
  const compareBtn = h("button", { type: "button", class: "secondary", "data-action": "compare", disabled: true }, "Compare selected");
  compareBtn.addEventListener("click", () => {
    if (picked.size >= 2) navigate(comparePath([...picked]));
  });
  const syncPicks = () => {
    compareBtn.disabled = picked.size < 2;
    setText(compareBtn, picked.size ? `Compare selected (${picked.size})` : "Compare selected");
    for (const box of recentBox.querySelectorAll<HTMLInputElement>("input[data-compare]")) {
      box.disabled = !box.checked && picked.size >= MAX_COMPARE;
    }
  };
  const renderRecent = () => {
    const list = loadRecent();
    recentBox.hidden = list.length === 0;
    const now = Date.now();
    for (const sid of [...picked]) if (!list.some((r) => r.sid === sid)) picked.delete(sid);
    recentBox.replaceChildren(
      h("h2", { id: "recent-h" }, "Recent sessions"),
      h(
        "ul",
        {},
        ...list.map((r) => {
          const box = h("input", { type: "checkbox", "data-compare": r.sid, "aria-label": `Compare ${visibleText(r.name) || displaySid(r.sid)}` });
          box.checked = picked.has(r.sid);
          box.addEventListener("change", () => {
            if (box.checked) picked.add(r.sid);
            else picked.delete(r.sid);
            syncPicks();
          });
          return h(
            "li",
            {},
            h("label", { class: "pick", title: "Select to compare" }, box),
            h("a", { href: sessionPath(r.sid), "data-link": true }, h("span", { class: "sid" }, displaySid(r.sid)), r.name ? h("span", { class: "run-name clamp", title: visibleText(r.name) }, visibleText(r.name)) : null),
            h("span", { class: "muted meta" }, `${recentMeta(r, now, formatAge)}${hasOwnerKey(r.sid) ? " · owner" : ""}`),
          );
        }),
      ),
      h("div", { class: "recent-actions" },
        compareBtn,
        h("button", { type: "button", class: "link", onclick: () => { forgetAll(); picked.clear(); renderRecent(); } }, "Forget these"),
      ),
    );
    syncPicks();
  };
  renderRecent();

  const install = h("section", { class: "card install", hidden: true });
  const renderInstall = () => {
    if (isStandalone()) {
      install.hidden = true;
      return;
    }
    if (canPrompt()) {
      install.hidden = false;
      install.replaceChildren(
        h("p", {}, "Install TF Watcher to open it like an app."),
        h("button", { type: "button", onclick: () => void promptInstall() }, "Install app"),
      );
    } else if (isIos()) {
      install.hidden = false;
      install.replaceChildren(h("p", {}, "To install: tap Share, then “Add to Home Screen”."));
    } else {
      install.hidden = true;
    }
  };
  renderInstall();
  const offInstall = onInstallChange(renderInstall);

  const main = h(
    "main",
    { class: "home" },
    h("h1", {}, "Watch training live"),
    h("p", { class: "lead" }, "Open a session to see its metrics, progress and ETA as your model trains."),
    workspaceBox,
    form,
    recentBox,
    h("p", { class: "muted compare-link" }, h("a", { href: "/compare", "data-link": true }, "Compare runs"), " — overlay up to 5 sessions by ID or link."),
    install,
  );
  clear(root);
  root.appendChild(main);
  document.title = "TF Watcher";
  if (!initialError && matchMedia("(pointer: fine)").matches) input.focus();
  return () => offInstall();
}
