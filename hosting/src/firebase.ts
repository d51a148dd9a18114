/**
 * Firebase app + Firestore, made once. The config comes from Hosting's
 * `/__/firebase/init.json` (the local server adds `firestoreEmulator: {host, port}`), so one
 * build serves any project. The last config seen is kept in localStorage so a session seen
 * before opens offline even if the service worker has not cached the config yet.
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
      const { firestoreEmulator, vapidKey, ...options } = cfg; // vapidKey is not an app option
      void vapidKey;
      const app = initializeApp(options);
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
