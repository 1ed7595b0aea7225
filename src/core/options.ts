import { availableParallelism } from "node:os";
import { FramecacheError } from "./errors.js";
import { parseSize } from "./format.js";
import type { KeyMode } from "./key.js";
import { resolveRemoteSources, type RemoteSourceOptions, type ResolvedRemoteSources } from "./remote-source-options.js";
import { parseFps, type Rational } from "./time.js";

/** A Turborepo remote cache API server (Vercel's, or the open-source `turborepo-remote-cache`). */
export interface RemoteOptions {
  /** Base URL of the API, e.g. `https://cache.example.com`; `/v8/artifacts/…` is appended. */
  url: string;
  /** Bearer token. @default env FRAMECACHE_REMOTE_TOKEN */
  token?: string;
  /** Team, sent as `?teamId=` (turborepo-remote-cache requires one; on Vercel use the `team_…` id). @default env FRAMECACHE_REMOTE_TEAM */
  team?: string;
  /** Download only; never upload. @default env FRAMECACHE_REMOTE_READ_ONLY, else false */
  readOnly?: boolean;
  /** Milliseconds of silence (connecting included) before a transfer is abandoned. @default 30000 */
  timeout?: number;
  /**
   * Signed artifacts, as Turborepo signs them: uploads carry an `x-artifact-tag` (HMAC-SHA256
   * keyed by `key`), and a download without a valid tag is a miss (one warning), extracted
   * locally and uploaded again signed. The key is never printed. `false` turns it off.
   * @default { key: env FRAMECACHE_REMOTE_SIGNATURE_KEY, else TURBO_REMOTE_CACHE_SIGNATURE_KEY }, or off when neither is set
   */
  signature?: { key?: string } | false;
}

/** Remote options once resolved: a signature, when on, always has its key. */
export interface ResolvedRemoteOptions extends Omit<RemoteOptions, "signature"> {
  signature?: { key: string };
}

/** Options of `framecache()`. Every one is optional. */
export interface FramecacheOptions {
  /**
   * Output frame rate for compositions whose root has no `data-fps`: an integer,
   * or an exact ratio string such as `"30000/1001"`. Decimals like 29.97 are refused.
   * @default 30
   */
  fps?: number | string;
  /** `"jpg"`, `"png"`, or `"auto"` (png when the source has alpha). @default "auto" */
  format?: "jpg" | "png" | "auto";
  /** JPEG quality 1-100. @default 95 */
  quality?: number;
  /** Downscale frames to this width (keeps aspect when height is not given). @default source width */
  width?: number;
  /** Downscale frames to this height (keeps aspect when width is not given). @default source height */
  height?: number;
  /** Glob(s) of composition HTML files, relative to the Vite root. @default Vite's HTML inputs */
  compositions?: string | string[];
  /**
   * Cache root; `false` extracts into the build only.
   * @default env FRAMECACHE_DIR, else HYPERFRAMES_EXTRACT_CACHE_DIR, else `node_modules/.cache/framecache`
   */
  cacheDir?: string | false;
  /**
   * `"content"` identifies sources by their bytes (portable across checkouts);
   * `"stat"` by path, mtime and size (shared with the HyperFrames v2 engine).
   * @default "content"
   */
  key?: KeyMode;
  /** LRU budget of the store, in bytes or as `"5GB"`. @default "5GB" */
  maxCacheSize?: number | string;
  /** ffmpeg processes at once. @default max(2, floor(cores / 2)) */
  concurrency?: number;
  /** Shared cache over the Turborepo remote cache API. @default off, or from FRAMECACHE_REMOTE_* env */
  remote?: RemoteOptions | false;
  /**
   * `http(s)` video sources: downloaded once into the store, revalidated, then extracted like
   * local files. `false` skips them with a warning.
   * @default true
   */
  remoteSources?: boolean | RemoteSourceOptions;
  /** JSON report path relative to outDir; `false` for none. @default "framecache-report.json" */
  report?: string | false;
  /**
   * Milliseconds one ffmpeg run may take before it is killed and the video fails with
   * FC_FFMPEG_TIMEOUT, so a hung decoder cannot hang a build. A number applies to every run.
   * @default 60 s plus 1 s for every 10 planned frames (a 10 s clip at 30 fps: 90 s)
   */
  timeout?: number;
  /** @default env FFMPEG_PATH, else PATH, else @ffmpeg-installer/ffmpeg */
  ffmpegPath?: string;
  /** @default env FFPROBE_PATH, else PATH, else @ffprobe-installer/ffprobe */
  ffprobePath?: string;
}

export interface ResolvedOptions {
  fps: Rational;
  format: "jpg" | "png" | "auto";
  quality: number;
  width?: number;
  height?: number;
  compositions: string[];
  /** Absolute or root-relative cache directory; undefined when caching is off. */
  cacheDir?: string;
  key: KeyMode;
  maxCacheSize: number;
  concurrency: number;
  remote?: ResolvedRemoteOptions;
  /** Undefined when remote sources are skipped. */
  remoteSources?: ResolvedRemoteSources;
  report: string | false;
  /** Fixed ffmpeg timeout in ms; undefined scales with the frames (see `extractionTimeout`). */
  timeout?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

const OFF = new Set(["off", "none", "false", "0"]);
export const DEFAULT_CACHE_DIR = "node_modules/.cache/framecache";

function bad(option: string, value: unknown, accepted: string): never {
  throw new FramecacheError("FC_BAD_OPTION", `framecache option \`${option}\` is ${JSON.stringify(value)}; ${accepted}`, {
    hint: `Fix \`${option}\` in the framecache() call in your Vite config.`,
  });
}

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** How long one ffmpeg run may take: the `timeout` option, else 60 s plus 100 ms a planned frame. */
export function extractionTimeout(frames: number, option?: number): number {
  return option ?? Math.min(MAX_TIMEOUT_MS, 60_000 + 100 * frames);
}

function positiveInt(option: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    bad(option, value, `it must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** Validate user options against the environment; a bad value throws FC_BAD_OPTION naming it. */
export function resolveOptions(options: FramecacheOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const fps = options.fps === undefined ? { num: 30, den: 1 } : parseFps(options.fps);
  if (!fps) bad("fps", options.fps, 'use an integer (30) or an exact ratio string ("30000/1001") up to 1000 fps; decimals are refused');
  const format = options.format ?? "auto";
  if (!["jpg", "png", "auto"].includes(format)) bad("format", format, 'use "jpg", "png" or "auto"');
  const key = options.key ?? "content";
  if (!["content", "stat"].includes(key)) bad("key", key, 'use "content" or "stat"');
  const maxCacheSize = parseSize(options.maxCacheSize ?? "5GB");
  if (maxCacheSize === undefined) bad("maxCacheSize", options.maxCacheSize, 'use a byte count or a size such as "5GB"');
  const compositions = options.compositions === undefined ? [] : [options.compositions].flat();
  if (!compositions.every((g) => typeof g === "string" && g.length > 0)) bad("compositions", options.compositions, "use a glob string or an array of them");
  const report = options.report ?? "framecache-report.json";
  if (report !== false && (typeof report !== "string" || report === "")) bad("report", report, "use a file path or false");

  return {
    fps,
    format,
    quality: positiveInt("quality", options.quality, 100) ?? 95,
    width: positiveInt("width", options.width),
    height: positiveInt("height", options.height),
    compositions,
    cacheDir: resolveCacheDir(options.cacheDir, env),
    key,
    maxCacheSize,
    concurrency: positiveInt("concurrency", options.concurrency, 256) ?? defaultConcurrency(availableParallelism()),
    remote: resolveRemote(options.remote, env),
    remoteSources: resolveRemoteSources(options.remoteSources, env),
    report,
    timeout: positiveInt("timeout", options.timeout, MAX_TIMEOUT_MS),
    ffmpegPath: options.ffmpegPath,
    ffprobePath: options.ffprobePath,
  };
}

function resolveCacheDir(option: string | false | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (option === false) return undefined;
  if (option !== undefined) {
    if (typeof option !== "string" || option === "") bad("cacheDir", option, "use a directory path or false");
    return option;
  }
  const fromEnv = env.FRAMECACHE_DIR ?? env.HYPERFRAMES_EXTRACT_CACHE_DIR;
  if (fromEnv !== undefined && fromEnv !== "") return OFF.has(fromEnv.toLowerCase()) ? undefined : fromEnv;
  return DEFAULT_CACHE_DIR;
}

function resolveRemote(option: RemoteOptions | false | undefined, env: NodeJS.ProcessEnv): ResolvedRemoteOptions | undefined {
  if (option === false) return undefined;
  const fromEnv = (name: string) => (env[name] === "" ? undefined : env[name]);
  const remote: RemoteOptions | undefined =
    option !== undefined
      ? option
      : env.FRAMECACHE_REMOTE_URL
        ? { url: env.FRAMECACHE_REMOTE_URL, token: fromEnv("FRAMECACHE_REMOTE_TOKEN"), team: fromEnv("FRAMECACHE_REMOTE_TEAM") }
        : undefined;
  if (remote === undefined) return undefined;
  if (typeof remote !== "object" || remote === null) bad("remote", remote, "use { url, token, team, readOnly } or false");
  // Only the url is echoed back: an error message must never carry the token.
  if (!isHttpUrl(remote.url)) bad("remote.url", remote.url, "use an http(s) URL of a Turborepo remote cache API (or FRAMECACHE_REMOTE_URL)");
  positiveInt("remote.timeout", remote.timeout);
  const readOnly = remote.readOnly ?? (env.FRAMECACHE_REMOTE_READ_ONLY ? !OFF.has(env.FRAMECACHE_REMOTE_READ_ONLY.toLowerCase()) : false);
  return {
    ...remote,
    token: remote.token ?? fromEnv("FRAMECACHE_REMOTE_TOKEN"),
    team: remote.team ?? fromEnv("FRAMECACHE_REMOTE_TEAM"),
    readOnly,
    signature: resolveSignature(remote.signature, fromEnv),
  };
}

function resolveSignature(option: RemoteOptions["signature"], fromEnv: (name: string) => string | undefined): { key: string } | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (typeof option !== "object" || option === null)) bad("remote.signature", typeof option, "use { key } or false");
  const key = option?.key ?? fromEnv("FRAMECACHE_REMOTE_SIGNATURE_KEY") ?? fromEnv("TURBO_REMOTE_CACHE_SIGNATURE_KEY");
  if (key === undefined) return undefined;
  // Never echo the value: only its type is named.
  if (typeof key !== "string" || key === "") bad("remote.signature.key", typeof key, "use a non-empty string (or FRAMECACHE_REMOTE_SIGNATURE_KEY)");
  return hiddenKey(key);
}

/** `{ key }` whose key stays out of JSON.stringify, console.log and util.inspect. */
function hiddenKey(key: string): { key: string } {
  const holder = {
    toJSON: () => ({ key: "[redacted]" }),
    [Symbol.for("nodejs.util.inspect.custom")]: () => "{ key: [redacted] }",
  };
  Object.defineProperty(holder, "key", { value: key, enumerable: false });
  return holder as unknown as { key: string };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Half the cores, but at least two: one ffmpeg leaves cores idle while it starts up and while
 * it writes frames. On 2 cores, two at once ran twelve short clips in 0.81 of the time one at
 * a time took, and two 8 s 1080p clips in 0.94.
 */
export function defaultConcurrency(cores: number): number {
  return Math.max(2, Math.floor(cores / 2));
}
