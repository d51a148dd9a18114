/// <reference lib="webworker" />
/**
 * The service worker (vite-plugin-pwa `injectManifest`): Workbox precaching of the app shell
 * with the navigation fallback, the Firebase config network-first, and web push from FCM.
 *
 * Push: Cloud Functions send an FCM web push (functions/tfw_functions/notify.py). FCM
 * delivers it to the push subscription that `getToken()` made on this worker's registration
 * (src/fcm.ts), so this worker shows it itself and handles the tap; it does not load the
 * Firebase SDK (which would need the project config before the first event, and ~30 KB).
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { NetworkFirst } from "workbox-strategies";
import { clientsClaim } from "workbox-core";
import { clickTarget, displayFromPayload } from "./push-payload";

declare let self: ServiceWorkerGlobalScope;

// registerType "autoUpdate": a new version takes over at once.
void self.skipWaiting();
clientsClaim();

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// Every app route gets the app; Hosting's reserved URLs (/__/*) never do.
registerRoute(new NavigationRoute(createHandlerBoundToURL("/index.html"), { denylist: [/^\/__\//] }));
// The Firebase config: fresh when online, from cache when offline.
registerRoute(
  ({ url }) => url.pathname === "/__/firebase/init.json",
  new NetworkFirst({ cacheName: "firebase-config", networkTimeoutSeconds: 3 }),
);

self.addEventListener("push", (event: PushEvent) => {
  let payload: unknown = null;
  try {
    payload = event.data?.json();
  } catch {
    payload = null; // not JSON: show the generic notification
  }
  const { title, options } = displayFromPayload(payload);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event: NotificationEvent) => {
  event.notification.close();
  const url = clickTarget(event.notification.data, self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const same = windows.find((w) => w.url.split("#")[0] === url);
      if (same) return void (await same.focus());
      const ours = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (ours && new URL(url).origin === self.location.origin) {
        const w = await ours.focus();
        return void (await w.navigate(url));
      }
      await self.clients.openWindow(url);
    })(),
  );
});
