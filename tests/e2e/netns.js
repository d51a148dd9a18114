// The test's own "LAN" for local-mode tests: a network namespace joined to this machine by a
// veth pair, owned by a `python -m tests.local.netns serve` process (tests/local/netns.py).
// `hostIp` is this machine's end (the dashboard binds it), `phoneIp` the namespace's;
// `chromium` is a wrapper script that runs Chromium inside the namespace, so the browser is
// the phone; `tryConnect(host, port)` makes a TCP connect from inside the namespace. Nothing
// is sent to this machine's real interfaces. `close()` (or the helper's own end, when this
// process goes away and its stdin closes) removes the namespace, the veth pair and the wrapper.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, python, repo } from "./helpers.js";

/** Resolves with the namespace, or with `{ unavailable: "why" }` where none can be made. */
export async function createLan() {
  const child = spawn(python(), ["-m", "tests.local.netns", "serve"], { cwd: repo, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((res) => child.once("exit", res));
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    const w = waiters.shift();
    if (w) w(l); else lines.push(l);
  });
  const nextLine = () => new Promise((res, rej) => {
    if (lines.length) return res(lines.shift());
    const timer = setTimeout(() => rej(new Error(`netns helper did not answer:\n${stderr}`)), 30_000);
    waiters.push((l) => { clearTimeout(timer); res(l); });
  });
  const first = JSON.parse(await nextLine());
  if (first.unavailable) {
    await exited;
    return { unavailable: first.unavailable };
  }
  let queue = Promise.resolve();
  return {
    ...first,
    hostIp: first.host_ip,
    phoneIp: first.phone_ip,
    /** "connected", or the errno name (ECONNREFUSED: nothing listens there), from inside the namespace. */
    tryConnect(host, port) {
      const answer = queue.then(() => { child.stdin.write(`connect ${host} ${port}\n`); return nextLine(); });
      queue = answer.catch(() => {});
      return answer;
    },
    /** Chromium running inside the namespace. */
    launch: () => chromium.launch({ executablePath: first.chromium, args: CHROMIUM_ARGS }),
    async close() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`netns helper exited with ${code}:\n${stderr}`);
    },
  };
}
