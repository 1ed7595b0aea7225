import { mkdir, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { isFramecacheError } from "../core/errors.js";
import { formatBytes } from "../core/format.js";
import type { RemoteOptions, ResolvedOptions } from "../core/options.js";
import { CHOSEN_BY, locateBinary, type Binary, type BinaryName } from "../media/binaries.js";
import { ffmpegCapabilities } from "../media/capabilities.js";
import { resolveCacheDir } from "../core/paths.js";
import { artifactUrl } from "../store/remote/http.js";
import { probeWrite } from "../store/store.js";
import { freeSpace, storeUsage } from "../store/usage.js";

export type CheckStatus = "ok" | "warn" | "fail";

/** One line of `framecache doctor`: what was found and, unless ok, what to do. */
export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** The measured values, for `--json` readers. */
  data?: Record<string, unknown>;
}

export interface DoctorInput {
  options: ResolvedOptions;
  /** Where a relative cacheDir is resolved (the project root, or the CLI's cwd). */
  root: string;
  /** How the cache directory was chosen, for the report (`--cache-dir`, `FRAMECACHE_DIR`…). */
  cacheDirFrom: string;
  env?: NodeJS.ProcessEnv;
  /** @default 3000 */
  remoteTimeoutMs?: number;
}

/** Below this, extractions are about to fail with FC_NO_SPACE. */
const MIN_FREE = 100e6;

/** Every check, in the order a person fixes things: binaries, cache, remote. */
export async function runDoctor(input: DoctorInput): Promise<Check[]> {
  const env = input.env ?? process.env;
  const o = input.options;
  const found = { ffmpegPath: o.ffmpegPath, ffprobePath: o.ffprobePath, env };
  const [ffmpeg, ffprobe] = await Promise.all([binaryCheck("ffmpeg", found), binaryCheck("ffprobe", found)]);
  const checks = [ffmpeg.check, ffprobe.check];
  if (ffmpeg.binary) checks.push(...(await featureChecks(ffmpeg.binary)));
  checks.push(...(await cacheChecks(input)));
  checks.push(await remoteCheck(o.remote, input.remoteTimeoutMs ?? 3000));
  return checks;
}

async function binaryCheck(name: BinaryName, options: Parameters<typeof locateBinary>[1]): Promise<{ check: Check; binary?: Binary }> {
  try {
    const binary = await locateBinary(name, options);
    const { path } = binary;
    return {
      binary,
      check: {
        id: name,
        title: name,
        status: "ok",
        detail: `${binary.versionText} at ${path} (${CHOSEN_BY[binary.chosenBy](name)})`,
        data: { path, version: binary.versionText, chosenBy: binary.chosenBy },
      },
    };
  } catch (error) {
    if (!isFramecacheError(error)) throw error;
    return { check: { id: name, title: name, status: "fail", detail: firstLine(error.message), fix: error.hint } };
  }
}

async function featureChecks(ffmpeg: Binary): Promise<Check[]> {
  const { filters, decoders } = await ffmpegCapabilities(ffmpeg);
  const missingFilters = ["zscale", "tonemap"].filter((f) => !filters.has(f));
  const missingDecoders = ["libvpx-vp9", "libvpx"].filter((d) => !decoders.has(d));
  return [
    missingFilters.length === 0
      ? { id: "hdr", title: "HDR", status: "ok", detail: "zscale and tonemap filters: HDR sources are tone-mapped for jpg" }
      : {
          id: "hdr",
          title: "HDR",
          status: "warn",
          detail: `no ${missingFilters.join(" or ")} filter: HDR (PQ/HLG) sources cannot be tone-mapped and will fail`,
          fix: "Use an ffmpeg built with --enable-libzimg (Debian, Ubuntu and Homebrew packages are), via FFMPEG_PATH if needed.",
        },
    missingDecoders.length === 0
      ? { id: "libvpx", title: "libvpx", status: "ok", detail: "libvpx-vp9 and libvpx decoders: WebM alpha is kept" }
      : {
          id: "libvpx",
          title: "libvpx",
          status: "warn",
          detail: `no ${missingDecoders.join(" or ")} decoder: WebM (VP8/VP9) sources with alpha cannot be extracted`,
          fix: "Use an ffmpeg built with --enable-libvpx (Debian, Ubuntu and Homebrew packages are), via FFMPEG_PATH if needed.",
        },
  ];
}

async function cacheChecks(input: DoctorInput): Promise<Check[]> {
  const wanted = input.options.cacheDir;
  if (wanted === undefined) {
    return [{ id: "cache", title: "cache", status: "ok", detail: `off (${input.cacheDirFrom}): every build extracts again` }];
  }
  const dir = resolveCacheDir(input.root, wanted);
  const budget = input.options.maxCacheSize;
  const [usage, writable, free] = await Promise.all([storeUsage(dir), writableCheck(dir), freeSpace(dir).catch(() => undefined)]);
  const fresh = !usage.exists && writable.status === "ok" ? ", not created yet" : "";
  const checks: Check[] = [{ id: "cache", title: "cache", status: "ok", detail: `${dir} (${input.cacheDirFrom})${fresh}`, data: { dir } }, writable];
  const sizeData = { bytes: usage.bytes, entries: usage.entries, budget };

  const used = `${formatBytes(usage.bytes)} in ${usage.entries} ${usage.entries === 1 ? "entry" : "entries"} of a ${formatBytes(budget)} budget`;
  checks.push(
    usage.bytes <= budget
      ? { id: "size", title: "cache size", status: "ok", detail: `${used} (${Math.round((usage.bytes / Math.max(1, budget)) * 100)}%)`, data: sizeData }
      : {
          id: "size",
          title: "cache size",
          status: "warn",
          detail: `${used}: over budget`,
          data: sizeData,
          fix: "Run `framecache gc` (builds that extract also trim it), or raise maxCacheSize.",
        },
  );

  if (free === undefined) {
    checks.push({ id: "disk", title: "disk space", status: "warn", detail: "could not be measured" });
  } else if (free < MIN_FREE) {
    checks.push({
      id: "disk",
      title: "disk space",
      status: "fail",
      detail: `${formatBytes(free)} free: extractions will fail`,
      data: { free },
      fix: "Free disk space, or move the cache with --cache-dir / FRAMECACHE_DIR to a larger disk.",
    });
  } else if (free < budget - usage.bytes) {
    checks.push({
      id: "disk",
      title: "disk space",
      status: "warn",
      detail: `${formatBytes(free)} free: less than the cache may still grow (${formatBytes(budget - usage.bytes)})`,
      data: { free },
      fix: "Lower maxCacheSize to what the disk holds, or free disk space.",
    });
  } else {
    checks.push({ id: "disk", title: "disk space", status: "ok", detail: `${formatBytes(free)} free`, data: { free } });
  }
  return checks;
}

/** Create and delete a file there for real: permissions, read-only mounts and files in the way all show. */
async function writableCheck(dir: string): Promise<Check> {
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
    await probeWrite(dir);
    return { id: "writable", title: "writable", status: "ok", detail: created ? "yes (the directory can be created)" : "yes" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const why: Record<string, string> = {
      ENOTDIR: `${await fileInTheWay(dir)} is a file, not a directory`,
      EEXIST: "a file of that name is in the way",
      EROFS: "it is on a read-only file system",
      EACCES: "permission denied",
      EPERM: "permission denied",
      ENOSPC: "the disk is full",
    };
    return {
      id: "writable",
      title: "writable",
      status: "fail",
      detail: `no: ${why[code] ?? (error as Error).message} (${code || "error"})`,
      fix: "Point --cache-dir or FRAMECACHE_DIR at a writable directory, or set FRAMECACHE_DIR=off to build without a cache. Until then every build extracts again.",
    };
  } finally {
    if (created) await rm(created, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A probe artifact nobody stores: 404 means reachable and the token accepted. */
const PROBE = "framecache-doctor-probe";

/** One HEAD with a short timeout; the remote client itself lives in src/store. */
export async function remoteCheck(remote: RemoteOptions | undefined, timeoutMs: number): Promise<Check> {
  const title = "remote cache";
  if (!remote) return { id: "remote", title, status: "ok", detail: "not configured (set FRAMECACHE_REMOTE_URL to share entries between machines)" };
  let url: URL;
  try {
    url = artifactUrl(remote.url, PROBE, remote.team);
  } catch {
    return { id: "remote", title, status: "fail", detail: `${remote.url} is not a URL`, fix: "Set FRAMECACHE_REMOTE_URL to the server's base URL, e.g. https://cache.example.com." };
  }
  const where = `${url.origin}${url.pathname.replace(/\/v8\/artifacts\/.*$/, "")}`;
  const token = remote.token ? "token set" : "no token";
  // Whether a key is set, never the key.
  const signing = remote.signature ? "artifacts signed (x-artifact-tag)" : "artifacts unsigned";
  const started = performance.now();
  let status: number;
  try {
    const response = await fetch(url, {
      method: "HEAD",
      headers: remote.token ? { authorization: `Bearer ${remote.token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
    const reason = (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (cause ?? (error as Error).message);
    return {
      id: "remote",
      title,
      status: "fail",
      detail: `${where} is unreachable: ${reason}`,
      fix: "Check FRAMECACHE_REMOTE_URL and that the server is up. Builds still work without it (one warning each).",
    };
  }
  const ms = Math.round(performance.now() - started);
  if (status === 200 || status === 404) {
    return {
      id: "remote",
      title,
      status: "ok",
      detail: `${where} answered in ${ms}ms, ${token}${remote.token ? " and accepted" : ""}${remote.readOnly ? ", read-only" : ""}, ${signing}`,
      data: { url: where, httpStatus: status, ms, token: Boolean(remote.token), signed: Boolean(remote.signature) },
    };
  }
  if (status === 401 || status === 403 || (status === 400 && !remote.token)) {
    return {
      id: "remote",
      title,
      status: "fail",
      detail: `${where} refused the ${remote.token ? "token" : "request without a token"} (HTTP ${status})`,
      data: { url: where, httpStatus: status, token: Boolean(remote.token) },
      fix: "Set FRAMECACHE_REMOTE_TOKEN to a token this server accepts (and FRAMECACHE_REMOTE_TEAM if it needs a team).",
    };
  }
  return {
    id: "remote",
    title,
    status: "fail",
    detail: `${where} answered HTTP ${status} to a cache probe (${token})`,
    data: { url: where, httpStatus: status, token: Boolean(remote.token) },
    fix: "Check that FRAMECACHE_REMOTE_URL is the base URL of a Turborepo remote cache (without /v8), and FRAMECACHE_REMOTE_TEAM.",
  };
}

/** The nearest existing ancestor of a path that could not be created: the file that blocks it. */
async function fileInTheWay(path: string): Promise<string> {
  for (let p = dirname(path); p !== dirname(p); p = dirname(p)) {
    if (await stat(p).then(() => true, () => false)) return p;
  }
  return "a part of the path";
}

function firstLine(text: string): string {
  return text.split("\n")[0]!;
}
