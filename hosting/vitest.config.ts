import { defineConfig } from "vitest/config";

// Unit tests cover the pure modules (series, status, sid, routing); no browser, no PWA plugin.
export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
