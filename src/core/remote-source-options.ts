import { FramecacheError } from "./errors.js";
import { parseSize } from "./format.js";
import { parseHeaderText } from "./remote-url.js";

/** How `http(s)` video sources are fetched (DESIGN §6.2). */
export interface RemoteSourceOptions {
  /** Host globs that may be fetched from (`"media.example.com"`, `"*.s3.amazonaws.com"`). @default every host */
  allow?: string[];
  /** Largest source that is downloaded, in bytes or as `"2GB"`. @default "2GB" */
  maxBytes?: number | string;
  /** Milliseconds a download is trusted without asking the server again; `0` asks on every run. @default 300000 */
  freshFor?: number;
  /**
   * Request headers for every source request (a signed bucket's `Authorization`); never printed.
   * @default env FRAMECACHE_REMOTE_HEADERS (a JSON object, or `Name: value` lines)
   */
  headers?: Record<string, string>;
  /** Milliseconds of silence (connecting included) before a download is abandoned. @default 30000 */
  timeout?: number;
}

export interface ResolvedRemoteSources {
  allow?: string[];
  maxBytes: number;
  freshForMs: number;
  headers: Record<string, string>;
  timeoutMs: number;
}

export const DEFAULT_FRESH_MS = 5 * 60_000;
export const DEFAULT_SOURCE_TIMEOUT_MS = 30_000;

function bad(option: string, accepted: string, value?: unknown): never {
  // A header's value may be a secret: it is never echoed.
  const shown = value === undefined ? "" : ` is ${JSON.stringify(value)};`;
  throw new FramecacheError("FC_BAD_OPTION", `framecache option \`${option}\`${shown || " is invalid;"} ${accepted}`, {
    hint: `Fix \`${option}\` in the framecache() call in your Vite config.`,
  });
}

/** `remoteSources`, validated; undefined when remote sources are off (skipped with a warning, as before). */
export function resolveRemoteSources(option: boolean | RemoteSourceOptions | undefined, env: NodeJS.ProcessEnv): ResolvedRemoteSources | undefined {
  if (option === false) return undefined;
  const o: RemoteSourceOptions = option === undefined || option === true ? {} : option;
  if (typeof o !== "object" || o === null) bad("remoteSources", "use true, false or { allow, maxBytes, freshFor, headers, timeout }", option);
  if (o.allow !== undefined && !(Array.isArray(o.allow) && o.allow.every((g) => typeof g === "string" && g !== ""))) {
    bad("remoteSources.allow", "use an array of host globs such as \"*.example.com\"", o.allow);
  }
  const maxBytes = parseSize(o.maxBytes ?? "2GB");
  if (!maxBytes) bad("remoteSources.maxBytes", 'use a byte count or a size such as "2GB"', o.maxBytes);
  const freshForMs = o.freshFor ?? DEFAULT_FRESH_MS;
  if (!Number.isInteger(freshForMs) || freshForMs < 0) bad("remoteSources.freshFor", "use a whole number of milliseconds (0 revalidates every run)", o.freshFor);
  const timeoutMs = o.timeout ?? DEFAULT_SOURCE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) bad("remoteSources.timeout", "use a whole number of milliseconds", o.timeout);
  let headers = o.headers;
  if (headers === undefined && env.FRAMECACHE_REMOTE_HEADERS) {
    headers = parseHeaderText(env.FRAMECACHE_REMOTE_HEADERS);
    if (!headers) bad("FRAMECACHE_REMOTE_HEADERS", "use a JSON object of strings, or `Name: value` lines");
  }
  if (headers !== undefined && (typeof headers !== "object" || headers === null || !Object.values(headers).every((v) => typeof v === "string"))) {
    bad("remoteSources.headers", "use an object of header names to string values");
  }
  return { allow: o.allow, maxBytes, freshForMs, headers: { ...headers }, timeoutMs };
}
