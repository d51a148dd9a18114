/** A chart as a PNG file: its title and plot on the page's background, downloaded at once. */
import type uPlot from "uplot";
import { cssVar } from "./chart-format";
import { h } from "./dom";

export async function downloadPng(u: uPlot, title: string): Promise<Blob | null> {
  const src = u.ctx.canvas;
  const dpr = src.width / Math.max(1, u.width);
  const titleH = Math.round(28 * dpr);
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = src.height + titleH;
  const ctx = c.getContext("2d");
  if (!ctx) return null;
  ctx.fillStyle = cssVar("--bg-card", "#ffffff");
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = cssVar("--fg", "#202124");
  ctx.font = `600 ${Math.round(15 * dpr)}px system-ui, sans-serif`;
  ctx.fillText(title, 8 * dpr, 20 * dpr, c.width - 16 * dpr);
  ctx.drawImage(src, 0, titleH);
  const blob = await new Promise<Blob | null>((res) => c.toBlob(res, "image/png"));
  if (!blob) return null;
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `${title.replace(/[^\w.-]+/g, "_").slice(0, 80) || "chart"}.png` });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}
