// A static server for hosting/dist that behaves like Firebase Hosting where it matters to the
// benchmarks: gzip for text, hashed assets cached as immutable, SPA fallback, /logs redirect,
// and /__/firebase/init.json pointing at the emulator (as tfwatcher/local/server.py does, which does
// not compress). Used by run.mjs; `node server.mjs PORT EMULATOR_PORT` to run it alone.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".webmanifest": "application/manifest+json", ".svg": "image/svg+xml",
  ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain",
};
const COMPRESS = new Set([".html", ".js", ".css", ".json", ".webmanifest", ".svg", ".txt"]);

export function startStaticServer({ dist = resolve(here, "..", "..", "hosting", "dist"), port = 0, emulatorPort, project = "demo-tfwatcher" }) {
  const cache = new Map();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const send = (status, headers, body) => {
      res.writeHead(status, headers);
      res.end(body);
    };
    if (url.pathname === "/__/firebase/init.json") {
      const host = (req.headers.host || "127.0.0.1").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
      return send(200, { "Content-Type": "application/json", "Cache-Control": "no-cache" }, JSON.stringify({
        projectId: project, apiKey: "demo-api-key", appId: "1:000000000000:web:local",
        authDomain: `${project}.firebaseapp.com`, storageBucket: "", messagingSenderId: "000000000000",
        firestoreEmulator: { host, port: emulatorPort },
      }));
    }
    const legacy = /^\/logs\/([^/]+)\/?$/.exec(url.pathname);
    if (legacy) return send(301, { Location: `/s/${legacy[1]}` });
    let file = normalize(join(dist, decodeURIComponent(url.pathname)));
    if (!file.startsWith(dist)) return send(400, {}, "bad path");
    try {
      if (!(await stat(file)).isFile()) throw new Error("dir");
    } catch {
      file = join(dist, "index.html");
    }
    const ext = extname(file);
    let entry = cache.get(file);
    if (!entry) {
      const raw = await readFile(file);
      entry = { raw, gz: COMPRESS.has(ext) ? gzipSync(raw, { level: 9 }) : null };
      cache.set(file, entry);
    }
    const headers = {
      "Content-Type": TYPES[ext] || "application/octet-stream",
      "Cache-Control": url.pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      Vary: "Accept-Encoding",
    };
    if (entry.gz && /\bgzip\b/.test(req.headers["accept-encoding"] || "")) {
      send(200, { ...headers, "Content-Encoding": "gzip", "Content-Length": entry.gz.length }, entry.gz);
    } else {
      send(200, { ...headers, "Content-Length": entry.raw.length }, entry.raw);
    }
  });
  return new Promise((res) => server.listen(port, "127.0.0.1", () => {
    res({ url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(() => r())) });
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startStaticServer({ port: Number(process.argv[2] || 5000), emulatorPort: Number(process.argv[3] || 8080) });
  console.log(`Serving on ${s.url}`);
}
