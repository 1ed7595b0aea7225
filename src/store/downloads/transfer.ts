import { createHash, type Hash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { FramecacheError, type ErrorCode } from "../../core/errors.js";
import { formatBytes } from "../../core/format.js";
import type { Validators } from "../../core/remote-url.js";

export interface TransferOptions {
  headers: Record<string, string>;
  maxBytes: number;
  /** Silence allowed, connecting included, before the transfer is abandoned. */
  timeoutMs: number;
  /** Validators of the copy at hand: the request is conditional, and a 304 keeps it. */
  known?: Validators;
  signal?: AbortSignal;
  /** Whether a redirect may lead to this host (`remoteSources.allow` holds at every hop). */
  allowHost?: (host: string) => boolean;
}

export type Transfer =
  | { status: "not-modified"; finalUrl: string; validators: Validators }
  | { status: "downloaded"; finalUrl: string; validators: Validators; digest: string; size: number };

export type HeadResult = { finalUrl: string; validators: Validators };

const MAX_REDIRECTS = 5;
const RETRIES = 1;

/**
 * The validators a server gives for a URL, from a `HEAD`: how another machine tells whether
 * the shared cache already knows the bytes, without downloading them.
 */
export async function headSource(url: string, options: TransferOptions): Promise<HeadResult> {
  const res = await request("HEAD", url, options, {});
  await res.response.body?.cancel();
  if (res.response.status !== 200) throw statusError(res.response.status);
  return { finalUrl: res.finalUrl, validators: validatorsOf(res.response) };
}

/**
 * Download `url` into `partial` (created or truncated), hashing the bytes as they arrive.
 * A reset connection or a 5xx is retried once; a body cut short resumes with `Range` when the
 * server offers it for the same validator, else starts over. The caller renames `partial` into
 * place, or removes it on an error.
 */
export async function downloadSource(url: string, partial: string, options: TransferOptions): Promise<Transfer> {
  const file = await open(partial, "w");
  const state: Progress = { hash: createHash("sha256"), received: 0 };
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await attemptDownload(url, file, state, options);
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        if (attempt >= RETRIES) throw error.final;
        if (!state.resume) {
          state.hash = createHash("sha256");
          state.received = 0;
          await file.truncate(0);
        }
      }
    }
  } finally {
    await file.close();
  }
}

/** What a download has so far, carried from an attempt cut short to the next. */
interface Progress {
  hash: Hash;
  received: number;
  /** Set when the server offered ranges: the next attempt asks for the rest, if the bytes are still these. */
  resume?: { validator: string };
}

async function attemptDownload(url: string, file: FileHandle, state: Progress, options: TransferOptions): Promise<Transfer> {
  const resume = state.resume;
  state.resume = undefined;
  const extra = resume ? { range: `bytes=${state.received}-`, "if-range": resume.validator } : conditional(options.known);
  const { response, finalUrl } = await request("GET", url, options, extra);
  const validators = validatorsOf(response);
  if (response.status === 304 && !resume && options.known) {
    return { status: "not-modified", finalUrl, validators: { ...options.known, ...validators, size: options.known.size } };
  }
  if (response.status !== 200 && !(resume && response.status === 206)) {
    await response.body?.cancel();
    throw statusError(response.status);
  }
  if (response.status === 206 && !resumesAt(response, state.received)) {
    // A range that does not start where the bytes stop (or a proxy ignoring If-Range) would splice two files.
    await response.body?.cancel();
    state.received = 0;
    state.hash = createHash("sha256");
    await file.truncate(0);
    throw new RetryableError(fail("FC_DOWNLOAD_TRUNCATED", "the server's range did not continue the cut transfer", "Try again."));
  }
  if (response.status === 200 && state.received > 0) {
    // The bytes changed, or the server would not resume: start over.
    state.hash = createHash("sha256");
    state.received = 0;
    await file.truncate(0);
  }
  const total = response.status === 206 ? state.received + validators.size : validators.size > 0 ? validators.size : undefined;
  if (total !== undefined && total > options.maxBytes) {
    await response.body?.cancel();
    throw tooLarge(options.maxBytes);
  }
  try {
    await receive(response, file, state, total, options);
  } catch (error) {
    if (error instanceof FramecacheError) throw error;
    const validator = validators.etag && !validators.etag.startsWith("W/") ? validators.etag : validators.lastModified;
    if (response.headers.get("accept-ranges") === "bytes" && validator) state.resume = { validator };
    throw new RetryableError(total !== undefined && state.received < total ? truncated(state.received, total) : networkError(error));
  }
  if (total !== undefined && state.received !== total) throw truncated(state.received, total);
  return { status: "downloaded", finalUrl, validators: { ...validators, size: state.received }, digest: state.hash.digest("hex"), size: state.received };
}

/** Stream the body into the file after what it holds, hashing it. */
async function receive(response: Response, file: FileHandle, state: Progress, total: number | undefined, options: TransferOptions): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const silence = watchdog(options.timeoutMs, () => void reader.cancel(new SilenceError()).catch(() => undefined));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (silence.fired) throw timedOut(options.timeoutMs);
      if (options.signal?.aborted) {
        await reader.cancel();
        throw new FramecacheError("FC_CANCELLED", "the download was cancelled");
      }
      silence.reset();
      if (done) return;
      if (state.received + value.byteLength > options.maxBytes) {
        await reader.cancel();
        throw tooLarge(options.maxBytes);
      }
      await file.write(value, 0, value.byteLength, state.received);
      state.hash.update(value);
      state.received += value.byteLength;
    }
  } catch (error) {
    if (silence.fired) throw timedOut(options.timeoutMs);
    throw error;
  } finally {
    silence.stop();
  }
}

/** GET or HEAD, following redirects by hand: a loop, a non-http target or too many hops is an error, and headers stay with their origin. */
async function request(method: "GET" | "HEAD", url: string, options: TransferOptions, extra: Record<string, string>): Promise<{ response: Response; finalUrl: string }> {
  const origin = new URL(url).origin;
  const seen = new Set<string>();
  let current = url;
  for (let hop = 0; ; hop++) {
    seen.add(current);
    const target = new URL(current);
    // fetch refuses user info in a URL (and would quote it): it becomes Basic auth for that origin.
    const basic: Record<string, string> = target.username || target.password ? { authorization: `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}` } : {};
    target.username = "";
    target.password = "";
    // Configured headers (a bucket's credentials) go to the URL's own origin only.
    const headers = { "user-agent": "vite-plugin-framecache", ...basic, ...(target.origin === origin ? options.headers : {}), ...extra };
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", abort, { once: true });
    const silence = watchdog(options.timeoutMs, () => controller.abort(new SilenceError()));
    let response: Response;
    try {
      response = await fetch(target, { method, headers, redirect: "manual", signal: controller.signal });
    } catch (error) {
      // Not retried: a second wait as long would double what the user waits for a dead server.
      if (silence.fired) throw timedOut(options.timeoutMs);
      if (options.signal?.aborted) throw new FramecacheError("FC_CANCELLED", "the download was cancelled");
      const mapped = networkError(error);
      throw mapped.code === "FC_DOWNLOAD_FAILED" ? new RetryableError(mapped) : mapped;
    } finally {
      silence.stop();
      options.signal?.removeEventListener("abort", abort);
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new RetryableError(statusError(response.status));
    }
    const location = response.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(response.status) || !location) return { response, finalUrl: current };
    await response.body?.cancel();
    const next = URL.canParse(location, target) ? new URL(location, target) : undefined;
    if (!next) throw fail("FC_DOWNLOAD_REDIRECT", "the server redirected to a malformed URL", "Point src at the media's final URL.");
    if (options.allowHost && !options.allowHost(next.hostname)) {
      throw fail("FC_REMOTE_NOT_ALLOWED", `the server redirected to ${next.hostname}, which is not in remoteSources.allow`, `Add "${next.hostname}" to remoteSources.allow, or point src at an allowed host.`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw fail("FC_DOWNLOAD_REDIRECT", `the server redirected to a ${next.protocol} URL, which is not fetched`, "Point src at the media's http(s) URL.");
    }
    if (seen.has(next.href) || hop >= MAX_REDIRECTS) {
      throw fail("FC_DOWNLOAD_REDIRECT", seen.has(next.href) ? "the server's redirects loop" : `more than ${MAX_REDIRECTS} redirects`, "Point src at the media's final URL.");
    }
    current = next.href;
  }
}

function validatorsOf(response: Response): Validators {
  const length = Number(response.headers.get("content-length") ?? NaN);
  return {
    etag: response.headers.get("etag") ?? undefined,
    lastModified: response.headers.get("last-modified") ?? undefined,
    size: Number.isSafeInteger(length) && length >= 0 ? length : 0,
  };
}

/** A 206 continues the bytes at hand only when its Content-Range starts where they stop. */
function resumesAt(response: Response, received: number): boolean {
  return Number(/^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")?.[1]) === received;
}

function conditional(known: Validators | undefined): Record<string, string> {
  if (!known) return {};
  const headers: Record<string, string> = {};
  if (known.etag) headers["if-none-match"] = known.etag;
  if (known.lastModified) headers["if-modified-since"] = known.lastModified;
  return headers;
}

function watchdog(ms: number, onSilence: () => void): { reset(): void; stop(): void; readonly fired: boolean } {
  let fired = false;
  const start = () => setTimeout(() => ((fired = true), onSilence()), ms);
  let timer = start();
  return {
    reset: () => (clearTimeout(timer), (timer = start())),
    stop: () => clearTimeout(timer),
    get fired() {
      return fired;
    },
  };
}

class SilenceError extends Error {}

/** A failure worth one more try (a reset, a 5xx); `final` is what is reported if it fails again. */
class RetryableError extends Error {
  constructor(readonly final: FramecacheError) {
    super(final.message);
  }
}

function fail(code: ErrorCode, message: string, hint: string, cause?: unknown): FramecacheError {
  return new FramecacheError(code, message, { hint, cause });
}

function statusError(status: number): FramecacheError {
  if (status === 404 || status === 410) return fail("FC_DOWNLOAD_NOT_FOUND", `the server answered HTTP ${status}: no such file`, "Check the URL in src.");
  if (status === 401 || status === 403) {
    return fail("FC_DOWNLOAD_DENIED", `the server refused the request (HTTP ${status})`, "Give credentials in remoteSources.headers or FRAMECACHE_REMOTE_HEADERS, or a URL that is still signed.");
  }
  return fail("FC_DOWNLOAD_FAILED", `the server answered HTTP ${status}`, "Try again later, or check the server.");
}

function tooLarge(max: number): FramecacheError {
  return fail("FC_DOWNLOAD_TOO_LARGE", `the file is larger than remoteSources.maxBytes (${formatBytes(max)})`, "Raise remoteSources.maxBytes, or download the file into the project.");
}

function truncated(received: number, total: number): FramecacheError {
  return fail("FC_DOWNLOAD_TRUNCATED", `the server sent ${received} of the ${total} bytes it announced`, "Try again; if it persists, the server or a proxy cuts the transfer.");
}

function timedOut(ms: number): FramecacheError {
  return fail("FC_DOWNLOAD_TIMEOUT", `the server sent nothing for ${ms / 1000}s`, "Try again, or raise remoteSources.timeout for a slow server.");
}

const TLS = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/;

/** A failure below HTTP: unreachable, reset, or a certificate that does not verify. */
function networkError(error: unknown): FramecacheError {
  if (error instanceof FramecacheError) return error;
  const cause = (error as { cause?: NodeJS.ErrnoException })?.cause ?? (error as NodeJS.ErrnoException);
  // Only a code: fetch's own messages may quote the URL or a header's value.
  const code = typeof cause?.code === "string" && /^[A-Z0-9_]+$/.test(cause.code) ? cause.code : "network error";
  if (TLS.test(code)) return fail("FC_DOWNLOAD_TLS", `the server's TLS certificate was refused (${code})`, "Fix the server's certificate, or add its CA with NODE_EXTRA_CA_CERTS.", error);
  return fail("FC_DOWNLOAD_FAILED", `the server could not be reached (${code})`, "Check the network and the URL; a copy downloaded before is used when there is one.", error);
}
