/**
 * Text a session's writer controls (run, metric and config names, config values, error
 * messages) shown with its control and bidirectional-override characters made visible:
 * C0 and C1 controls, DEL, U+202A–U+202E and U+2066–U+2069 become `⟨U+202E⟩`, so
 * `loss\u202Etxt.exe` cannot display as "lossexe.txt" and nothing invisible hides in a name.
 */
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const HIDDEN_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `⟨U+${("000" + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4)}⟩`;

/** `s` with every control and bidi override character written as `⟨U+XXXX⟩`. */
export function visibleText(s: string): string {
  return s.replace(HIDDEN, escape);
}

/** As visibleText, but tabs and line breaks (LF) stay: for multi-line text such as error messages. */
export function visibleLines(s: string): string {
  return s.replace(HIDDEN_KEEP_LINES, escape);
}
