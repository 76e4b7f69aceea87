/**
 * Test helpers for the dashboard: the system's Chromium driven by playwright-core, and
 * `show --web` / `run --web` as a child process a test reads the URL from.
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";
import { cliCommand, ROOT } from "./helpers.ts";

/** Where Chromium is: RESTPIPE_TEST_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM: string = Deno.env.get("RESTPIPE_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** Screenshots and downloads of the browser tests (git-ignored). */
export const OUTPUT_DIR: string = `${ROOT}.data/test-output/dashboard`;

/**
 * Starts headless Chromium. Missing, it fails with what to install: `deno task test`
 * installs Debian's chromium when run as root.
 */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (Debian: apt-get install chromium) ` +
        `or set RESTPIPE_TEST_CHROMIUM to its path`,
    );
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // no sandbox (CI runs as root); no background traffic (the machine has no internet)
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  await Deno.mkdir(OUTPUT_DIR, { recursive: true });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/** A CLI command serving the dashboard, and what it printed. */
export interface WebCommand {
  /** The address it printed (token included). */
  url: string;
  /** The process id (its memory is in /proc/PID/status). */
  pid: number;
  /** Everything printed so far on stdout and stderr. */
  output(): string;
  /** Sends Ctrl-C and returns the exit code. */
  stop(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Runs the CLI with `args` until it prints `dashboard: <url>`. */
export async function startWebCommand(
  args: string[],
  env: Record<string, string> = {},
): Promise<WebCommand> {
  const child = cliCommand([...args], {
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  let found: (url: string) => void;
  const urlFound = new Promise<string>((resolve) => found = resolve);
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      const m = text.match(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m);
      if (m) found(m[1]);
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const ended = child.status.then((s) => s.code);
  const url = await Promise.race([
    urlFound,
    ended.then((code) => {
      throw new Error(`the command ended (exit ${code}) before printing its URL:\n${text}`);
    }),
  ]);
  let stopped: Promise<number> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGINT");
      } catch { /* already ended */ }
      const code = await ended;
      await pumps;
      return code;
    })();
    return stopped;
  };
  return {
    url,
    pid: child.pid,
    output: () => text,
    stop,
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}
