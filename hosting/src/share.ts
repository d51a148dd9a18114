/** Share a session: the Web Share API where present, else the clipboard. Never the owner key. */

export function shareUrl(sid: string, origin = location.origin): string {
  return `${origin}/s/${encodeURIComponent(sid)}`;
}

export type ShareResult = "shared" | "copied" | "cancelled" | "failed";

export async function shareSession(sid: string, title: string): Promise<ShareResult> {
  const url = shareUrl(sid);
  if (typeof navigator.share === "function") {
    try {
      await navigator.share({ title, text: title, url });
      return "shared";
    } catch (err) {
      if ((err as DOMException)?.name === "AbortError") return "cancelled";
      // NotAllowedError and friends: fall back to copying.
    }
  }
  try {
    await navigator.clipboard.writeText(url);
    return "copied";
  } catch {
    return legacyCopy(url) ? "copied" : "failed";
  }
}

function legacyCopy(text: string): boolean {
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}
