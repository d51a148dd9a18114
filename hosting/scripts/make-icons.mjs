// Draws the app icons (PNG, no dependencies): a rising-then-settling training curve on the
// brand colour. Run `npm run icons`; the PNGs are committed under public/icons/.
import { deflateSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "public");
const BG = [0xb4, 0x53, 0x09];
const FG = [0xff, 0xff, 0xff];
// A loss-like curve in a 0..1 box.
const CURVE = [[0.1, 0.2], [0.25, 0.55], [0.4, 0.7], [0.55, 0.77], [0.7, 0.81], [0.9, 0.83]].map(([x, y]) => [x, 1 - y]);

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x + 0.5, y + 0.5);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b; raw[o + 3] = a;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}
function segDist(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
// Supersampled coverage (4x4) for smooth edges.
function icon(size, { safe = 1, rounded = true } = {}) {
  const radius = rounded ? size * 0.2 : 0;
  const inset = (1 - safe) / 2;
  const pts = CURVE.map(([x, y]) => [(inset + x * safe) * size, (inset + y * safe) * size]);
  const stroke = size * 0.075 * safe;
  const inBg = (x, y) => {
    if (!rounded) return true;
    const cx = Math.min(Math.max(x, radius), size - radius), cy = Math.min(Math.max(y, radius), size - radius);
    return Math.hypot(x - cx, y - cy) <= radius;
  };
  return png(size, (x, y) => {
    let bg = 0, fg = 0;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      const sx = x - 0.5 + (i + 0.5) / 4, sy = y - 0.5 + (j + 0.5) / 4;
      if (!inBg(sx, sy)) continue;
      bg++;
      let d = Infinity;
      for (let k = 0; k < pts.length - 1; k++) d = Math.min(d, segDist(sx, sy, pts[k], pts[k + 1]));
      for (const p of [pts[0], pts[pts.length - 1]]) d = Math.min(d, Math.hypot(sx - p[0], sy - p[1]) - stroke * 0.4);
      if (d <= stroke / 2) fg++;
    }
    const a = bg / 16, f = bg ? fg / bg : 0;
    return [0, 1, 2].map((c) => Math.round(BG[c] * (1 - f) + FG[c] * f)).concat(Math.round(a * 255));
  });
}

mkdirSync(join(out, "icons"), { recursive: true });
writeFileSync(join(out, "icons", "icon-192.png"), icon(192));
writeFileSync(join(out, "icons", "icon-512.png"), icon(512));
writeFileSync(join(out, "icons", "maskable-512.png"), icon(512, { safe: 0.7, rounded: false }));
writeFileSync(join(out, "icons", "apple-touch-icon.png"), icon(180, { safe: 0.85, rounded: false }));
const path = CURVE.map(([x, y], i) => `${i ? "L" : "M"}${(x * 32).toFixed(1)} ${(y * 32).toFixed(1)}`).join(" ");
writeFileSync(join(out, "favicon.svg"),
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6.4" fill="#b45309"/>` +
  `<path d="${path}" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>\n`);
console.log("icons written to", join(out, "icons"));
