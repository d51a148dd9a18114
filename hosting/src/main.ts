/** Entry point: routing between views; every view returns its cleanup, called on leave. */
import "./style.css";
import { parseRoute, sessionPath, workspacePath } from "./router";
import { checkSid } from "./sid";
import { checkWid } from "./wid";
import { lastWorkspace, rememberWorkspace } from "./workspace-memory";
import { captureOwnerKey } from "./owner";
import { isStandalone, watchInstallPrompt } from "./install";
import { mountHome } from "./views/home";
import { messageState } from "./views/common";
import { buildSessionShell, setHeaderAction } from "./views/session-shell";
import { loadConfig } from "./config";

/** Once the next frame is on screen: the frame after it has begun (or after 100 ms, where
 * frames do not come: a background tab). */
const painted = (): Promise<void> =>
  new Promise((resolve) => {
    requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
    setTimeout(resolve, 100);
  });

/** Ask for init.json now, in parallel with the view's chunk (firebase.ts awaits the same). */
const prefetchConfig = (): void => void loadConfig().catch(() => undefined);

/** Launched as the installed app: standalone display, or the manifest's start URL if it says so. */
const launchedAsApp = (): boolean => isStandalone() || new URLSearchParams(location.search).get("source") === "pwa";

const root = document.getElementById("app")!;
let cleanup: (() => void) | null = null;
let generation = 0;

function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

async function render(): Promise<void> {
  const gen = ++generation;
  cleanup?.();
  cleanup = null;
  const route = parseRoute(location.pathname);
  switch (route.name) {
    case "home": {
      // The installed app opens on "/": the first page it shows is the last workspace used.
      const last = gen === 1 && launchedAsApp() ? lastWorkspace() : null;
      if (last) {
        history.replaceState(null, "", workspacePath(last));
        return render();
      }
      cleanup = mountHome(root, navigate);
      break;
    }
    case "redirect":
      // The old `/logs/{id}` links (Hosting redirects them too); keep the owner fragment.
      history.replaceState(null, "", route.to + location.hash);
      return render();
    case "session": {
      const check = checkSid(route.sid);
      if (!check.ok) {
        document.title = "Not a session ID · TF Watcher";
        root.replaceChildren(messageState("malformed", "That isn't a session ID", check.message));
        break;
      }
      if (check.sid !== route.sid) {
        history.replaceState(null, "", sessionPath(check.sid) + location.hash);
      }
      captureOwnerKey(check.sid);
      const shell = buildSessionShell(root, check.sid); // shown while the live view loads
      cleanup = () => setHeaderAction(null);
      // Paint the skeleton before the Firebase chunk (~180 KB) competes for the network and
      // the main thread: the page's largest paint is then the skeleton's, not a paint that
      // waits for that chunk (docs/dashboard.md, "First paint").
      await painted();
      if (gen !== generation) return;
      prefetchConfig();
      const { mountSession } = await import("./views/session");
      if (gen !== generation) return; // navigated away while loading
      cleanup = mountSession(root, check.sid, shell);
      break;
    }
    case "compare": {
      // Compare runs: its own chunk (uPlot, Firestore), loaded on this route only.
      document.title = "Compare runs · TF Watcher";
      const wait = document.createElement("p");
      wait.className = "muted";
      wait.textContent = "Loading…";
      root.replaceChildren(wait);
      prefetchConfig();
      const { mountCompare } = await import("./views/compare");
      if (gen !== generation) return;
      cleanup = mountCompare(root, navigate);
      break;
    }
    case "workspace": {
      const check = checkWid(route.wid);
      if (!check.ok) {
        document.title = "Not a workspace ID · TF Watcher";
        root.replaceChildren(messageState("malformed", "That isn't a workspace ID", check.message));
        break;
      }
      if (check.wid !== route.wid) history.replaceState(null, "", workspacePath(check.wid) + location.hash);
      captureOwnerKey(check.wid); // `#k=`: kept on this device like a session's (owner.ts), out of the address bar
      rememberWorkspace(check.wid);
      document.title = "Workspace · TF Watcher";
      const wait = document.createElement("p");
      wait.className = "muted";
      wait.textContent = "Loading…";
      root.replaceChildren(wait);
      prefetchConfig();
      const { mountWorkspace } = await import("./views/workspace");
      if (gen !== generation) return;
      cleanup = mountWorkspace(root, check.wid, navigate);
      break;
    }
    case "notFound":
      document.title = "Not found · TF Watcher";
      root.replaceChildren(messageState("notFound", "Page not found", `There is nothing at ${route.path}.`));
      break;
  }
  window.scrollTo(0, 0);
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a[data-link]") as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.origin !== location.origin) return;
  e.preventDefault();
  if (a.pathname !== location.pathname || a.search !== location.search) navigate(a.pathname + a.search);
});
window.addEventListener("popstate", () => void render());

watchInstallPrompt();
void render();

// The service worker: registered after first render, never in the way of it.
if ("serviceWorker" in navigator && import.meta.env.PROD) {
  window.addEventListener("load", () => {
    void import("virtual:pwa-register").then(({ registerSW }) => registerSW({ immediate: true }));
  });
}
