import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

export default defineConfig({
  server: {
    // src/contract.ts imports the data contract, tfwatcher/base/contract.json, from outside
    // this folder: let the dev server serve that file (the build inlines it).
    fs: { allow: [".", "../tfwatcher/base/contract.json"] },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    // Firestore alone is ~400 KB before gzip; the budget that matters is gzipped first load
    // (bench/dashboard), so do not warn about raw chunk size.
    chunkSizeWarningLimit: 700,
  },
  plugins: [
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: false, // src/pwa.ts registers it after the first render
      includeAssets: ["favicon.svg", "icons/apple-touch-icon.png"],
      manifest: {
        name: "TF Watcher",
        short_name: "TF Watcher",
        description: "Watch Keras / TensorFlow training live from your phone.",
        id: "/",
        start_url: "/",
        scope: "/",
        display: "standalone",
        background_color: "#ffffff",
        theme_color: "#e8710a",
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
          { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      // A custom worker (src/sw.ts): Workbox precaching and the navigation fallback as
      // before, plus the web push and notification-click handlers.
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      injectManifest: {
        globPatterns: ["**/*.{js,css,html,svg,png,webmanifest}"],
      },
    }),
  ],
});
