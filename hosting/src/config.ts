/**
 * The Firebase configuration from Hosting's `/__/firebase/init.json` (the local server adds
 * `firestoreEmulator: {host, port}`), so one build serves any project. No Firebase code here:
 * main.ts asks for it as soon as a session page starts, so the request runs while the
 * Firebase chunk downloads instead of after it (one round trip less before the first read).
 * The last config seen is kept in localStorage so a session seen before opens offline even if
 * the service worker has not cached the config yet.
 */
import type { FirebaseOptions } from "firebase/app";

export interface InitJson extends FirebaseOptions {
  firestoreEmulator?: { host: string; port: number };
  /** Web Push (VAPID) public key for FCM. Hosting's init.json has none; see docs/dashboard.md. */
  vapidKey?: string;
  /** reCAPTCHA Enterprise site key for App Check. Hosting's init.json has none; see docs/deploy.md. */
  appCheckSiteKey?: string;
}

const CONFIG_KEY = "tfw:init";

export class ConfigError extends Error {}

async function fetchConfig(): Promise<InitJson> {
  try {
    const r = await fetch("/__/firebase/init.json", { cache: "no-cache" });
    if (!r.ok) throw new ConfigError(`/__/firebase/init.json answered ${r.status}`);
    const json = (await r.json()) as InitJson;
    if (!json.projectId) throw new ConfigError("/__/firebase/init.json has no projectId");
    try {
      localStorage.setItem(CONFIG_KEY, JSON.stringify(json));
    } catch {
      /* private mode: fine */
    }
    return json;
  } catch (err) {
    const saved = safeSaved();
    if (saved) return saved;
    throw err instanceof ConfigError
      ? err
      : new ConfigError("Could not load the Firebase configuration (offline, or not served by Firebase Hosting).");
  }
}

function safeSaved(): InitJson | null {
  try {
    const s = localStorage.getItem(CONFIG_KEY);
    return s ? (JSON.parse(s) as InitJson) : null;
  } catch {
    return null;
  }
}

let configPromise: Promise<InitJson> | null = null;

/** The configuration, fetched once (again after a failure). */
export function loadConfig(): Promise<InitJson> {
  if (!configPromise) {
    configPromise = fetchConfig();
    configPromise.catch(() => {
      configPromise = null;
    });
  }
  return configPromise;
}
