/**
 * Firebase app + Firestore, made once, from the configuration of ./config.ts.
 *
 * Optional App Check (docs/deploy.md): with a reCAPTCHA Enterprise site key, in
 * `appCheckSiteKey` of init.json or else the build-time `VITE_APPCHECK_SITE_KEY`, App Check is
 * started before Firestore makes any request, so a project that enforces App Check serves
 * this dashboard and refuses other clients. Without a key nothing is loaded (its own chunk).
 */
import { initializeApp, type FirebaseApp } from "firebase/app";
import {
  connectFirestoreEmulator,
  initializeFirestore,
  memoryLocalCache,
  persistentLocalCache,
  persistentMultipleTabManager,
  type Firestore,
} from "firebase/firestore";
import { loadConfig, type InitJson } from "./config";

export { ConfigError, type InitJson } from "./config";

export interface FirebaseHandles {
  app: FirebaseApp;
  db: Firestore;
  config: InitJson;
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
