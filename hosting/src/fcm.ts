/**
 * An FCM registration token for this browser, from the modular `firebase/messaging`. Loaded
 * only when "Notify me" is pressed (a separate chunk: the first load does not pay for it).
 *
 * The token's push subscription lives on the PWA's own service worker (sw.ts shows the
 * pushes). The VAPID key: `vapidKey` in /__/firebase/init.json when that file has one (the
 * local server may add it; Hosting's does not), else the build-time `VITE_FCM_VAPID_KEY`, else
 * none (the SDK then uses Firebase's default key). See docs/dashboard.md.
 *
 * THE ONE MOCK: FCM cannot be reached from the test machines, so when the page defines
 * `window.__TFW_TEST_FCM_TOKEN__` (the e2e tests do, with an init script) that string is the
 * token and FCM is not called. Nothing else in the dashboard is stubbed.
 */
import { getMessaging, getToken, isSupported } from "firebase/messaging";
import type { FirebaseHandles } from "./firebase";

declare global {
  interface Window {
    __TFW_TEST_FCM_TOKEN__?: string;
  }
}

export class PushUnsupported extends Error {}

async function workerRegistration(timeoutMs = 10_000): Promise<ServiceWorkerRegistration> {
  const existing = await navigator.serviceWorker.getRegistration("/");
  if (existing?.active) return existing;
  return Promise.race([
    navigator.serviceWorker.ready,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new PushUnsupported("The app's service worker is not installed yet. Reload the page and try again.")), timeoutMs),
    ),
  ]);
}

export async function fcmToken(fb: FirebaseHandles): Promise<string> {
  const test = window.__TFW_TEST_FCM_TOKEN__;
  if (typeof test === "string" && test) return test;
  if (!(await isSupported())) throw new PushUnsupported("This browser cannot receive push notifications.");
  const vapidKey = fb.config.vapidKey || import.meta.env.VITE_FCM_VAPID_KEY || undefined;
  const serviceWorkerRegistration = await workerRegistration();
  return getToken(getMessaging(fb.app), { vapidKey, serviceWorkerRegistration });
}
