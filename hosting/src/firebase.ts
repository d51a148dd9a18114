/**
 * Firebase app + Firestore, made once. The config comes from Hosting's
 * `/__/firebase/init.json` (the local server adds `firestoreEmulator: {host, port}`), so one
 * build serves any project. The last config seen is kept in localStorage so a session seen
 * before opens offline even if the service worker has not cached the config yet.
 *
 * Optional App Check (docs/deploy.md): with a reCAPTCHA Enterprise site key, in
 * `appCheckSiteKey` of init.json or else the build-time `VITE_APPCHECK_SITE_KEY`, App Check is
 * started before Firestore makes any request, so a project that enforces App Check serves
 * this dashboard and refuses other clients. Without a key nothing is loaded (its own chunk).
 */
import { initializeApp, type FirebaseApp, type FirebaseOptions } from "firebase/app";
import {
  connectFirestoreEmulator,
  initializeFirestore,
  memoryLocalCache,
  persistentLocalCache,
  persistentMultipleTabManager,
  type Firestore,
} from "firebase/firestore";

export interface InitJson extends FirebaseOptions {
  firestoreEmulator?: { host: string; port: number };
  /** Web Push (VAPID) public key for FCM. Hosting's init.json has none; see docs/dashboard.md. */
  vapidKey?: string;
  /** reCAPTCHA Enterprise site key for App Check. Hosting's init.json has none; see docs/deploy.md. */
  appCheckSiteKey?: string;
}

export interface FirebaseHandles {
  app: FirebaseApp;
  db: Firestore;
  config: InitJson;
}

const CONFIG_KEY = "tfw:init";

export class ConfigError extends Error {}

async function loadConfig(): Promise<InitJson> {
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

let dbPromise: Promise<FirebaseHandles> | null = null;

export function getDb(): Promise<Firestore> {
  return getFirebase().then((f) => f.db);
}

/** The app, its Firestore and the config it was made from (messaging needs all three). */
export function getFirebase(): Promise<FirebaseHandles> {
  if (!dbPromise) {
    dbPromise = (async () => {
      const cfg = await loadConfig();
      // vapidKey and appCheckSiteKey are not app options
      const { firestoreEmulator, vapidKey, appCheckSiteKey, ...options } = cfg;
      void vapidKey;
      const app = initializeApp(options);
      await startAppCheck(app, appCheckSiteKey || import.meta.env.VITE_APPCHECK_SITE_KEY, !!firestoreEmulator);
      let db: Firestore;
      try {
        db = initializeFirestore(app, {
          localCache: persistentLocalCache({ tabManager: persistentMultipleTabManager() }),
        });
      } catch {
        // No IndexedDB (some private modes): live data still works, offline does not.
        db = initializeFirestore(app, { localCache: memoryLocalCache() });
      }
      if (firestoreEmulator?.host && firestoreEmulator.port) {
        connectFirestoreEmulator(db, firestoreEmulator.host, Number(firestoreEmulator.port));
      }
      return { app, db, config: cfg };
    })();
    dbPromise.catch(() => {
      dbPromise = null; // let a later view try again
    });
  }
  return dbPromise;
}

/**
 * App Check with reCAPTCHA Enterprise, when a site key is configured (never against the
 * emulator, which does not check tokens). It loads Google's reCAPTCHA script, so the CSP in
 * firebase.json must then allow it (docs/deploy.md lists the origins).
 */
async function startAppCheck(app: FirebaseApp, siteKey: string | undefined, emulator: boolean): Promise<void> {
  if (!siteKey || emulator) return;
  try {
    const { initializeAppCheck, ReCaptchaEnterpriseProvider } = await import("firebase/app-check");
    initializeAppCheck(app, { provider: new ReCaptchaEnterpriseProvider(siteKey), isTokenAutoRefreshEnabled: true });
  } catch (err) {
    // Where App Check is enforced, Firestore will refuse this client: say why.
    console.warn("TF Watcher: App Check could not start", err);
  }
}
