import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { createServer, type InlineConfig, type ViteDevServer } from "vite";
import framecache, { type FramecacheOptions } from "../../src/index.js";
import { capturingLogger } from "./project.js";

export interface DevServer {
  server: ViteDevServer;
  origin: string;
  logs: string[];
  warnings: string[];
  /** Every `framecache:update` payload the server sent, in order. */
  updates: unknown[];
  /** Every other HMR payload (full-reload, js-update…). */
  payloads: unknown[];
  close: () => Promise<void>;
}

/** A real Vite dev server on 127.0.0.1 with the plugin, its log captured. */
export async function startDev(root: string, options: FramecacheOptions, extra: InlineConfig = {}): Promise<DevServer> {
  const { logger, logs, warnings } = capturingLogger(true);
  const server = await createServer({
    root,
    configFile: false,
    logLevel: "info",
    customLogger: logger,
    plugins: [framecache(options)],
    server: { host: "127.0.0.1", port: 0 },
    ...extra,
  });
  // A pass-through spy: the payloads still reach the browser.
  const updates: unknown[] = [];
  const payloads: unknown[] = [];
  const hot = server.environments.client.hot;
  const send = hot.send.bind(hot) as (...args: unknown[]) => void;
  hot.send = ((...args: unknown[]) => {
    if (args[0] === "framecache:update") updates.push(args[1]);
    else payloads.push(args[0]);
    send(...args);
  }) as typeof hot.send;
  await server.listen();
  const { port } = server.httpServer!.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, logs, warnings, updates, payloads, close: () => server.close() };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An HTTP request with the path sent exactly as given: no URL parser normalises `..` or `%2e` first. */
/** A page as the dev server serves it to a browser; anything but a 200 fails. */
export async function pageHtml(dev: DevServer, path: string): Promise<string> {
  const res = await rawRequest(dev.origin, path, { headers: { accept: "text/html" } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  return res.body.toString("utf8");
}

export function rawRequest(origin: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: options.method ?? "GET", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Poll until `check` returns something truthy; fail with `what` after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A check that throws is "not yet": e.g. an image whose src the page swaps while it decodes.
    let failure: unknown;
    const value = await Promise.resolve()
      .then(check)
      .catch((error: unknown) => void (failure = error));
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: failure });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `data-frames` of each `<video id>` in served HTML. */
export function framesById(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<video[^>]*\sid="([^"]+)"[^>]*\sdata-frames="([^"]+)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** The entry name inside a dev frames URL. */
export function entryOf(framesUrl: string): string {
  return /\/@framecache\/([^/]+)\//.exec(framesUrl)![1]!;
}

/** URL of frame `n` from a `data-frames` pattern. */
export const frameAt = (framesUrl: string, n: number): string => framesUrl.replace("%05d", String(n).padStart(5, "0"));

/** Debian's Chromium, headless, with the flags this closed network needs (never a downloaded browser). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
