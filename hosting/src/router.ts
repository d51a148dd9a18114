/** Client-side routes. Pure parsing here; navigation helpers touch `history`. */

export type Route =
  | { name: "home" }
  | { name: "session"; sid: string }
  | { name: "compare" }
  | { name: "workspace"; wid: string }
  | { name: "redirect"; to: string }
  | { name: "notFound"; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/index.html") return { name: "home" };
  if (path === "/compare") return { name: "compare" }; // which sessions: the query string (compare-model.ts)
  const legacy = /^\/logs\/([^/]+)$/.exec(path);
  if (legacy) return { name: "redirect", to: `/s/${legacy[1]}` };
  const s = /^\/s\/([^/]+)$/.exec(path);
  if (s) {
    let sid: string;
    try {
      sid = decodeURIComponent(s[1]);
    } catch {
      sid = s[1];
    }
    return { name: "session", sid };
  }
  const w = /^\/w\/([^/]+)$/.exec(path);
  if (w) return { name: "workspace", wid: decoded(w[1]) };
  return { name: "notFound", path };
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function sessionPath(sid: string): string {
  return `/s/${encodeURIComponent(sid)}`;
}

/** `/w/{wid}`: a workspace's run list (read-only; the owner key only ever in `#k=`). */
export function workspacePath(wid: string): string {
  return `/w/${encodeURIComponent(wid)}`;
}

/** Reads `k=...` from a URL fragment such as `#k=abc`. */
export function ownerKeyFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const k = params.get("k");
  return k && k.length <= 256 ? k : null;
}
