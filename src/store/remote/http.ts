import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";

/** The remote could not be talked to: refused, reset, unknown host, or silent past the timeout. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly code: "REMOTE_TIMEOUT" | "REMOTE_UNREACHABLE";
  constructor(
    readonly kind: "timeout" | "network",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = kind === "timeout" ? "REMOTE_TIMEOUT" : "REMOTE_UNREACHABLE";
  }
}

export interface EndpointConfig {
  /** Base URL of the API, e.g. `https://cache.example.com` or `https://vercel.com/api`. */
  url: string;
  token?: string;
  /** Socket inactivity allowed, connecting included, before a request is abandoned. */
  timeoutMs: number;
  /** Sockets per origin; transfers are bounded by the caller too. */
  maxSockets: number;
}

export interface SendOptions {
  headers?: Record<string, string>;
  /** A fresh body stream for this request; with `length` it is sent with a Content-Length. */
  body?: () => Readable | NodeJS.ReadableStream;
  length?: number;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 3;

/** `<base>/<path>?<query>`, keeping any path prefix of the base URL; throws when `base` is not a URL. */
export function apiUrl(base: string | URL, path: string, query: Record<string, string | undefined> = {}): URL {
  const url = new URL(typeof base === "string" ? base : base.href);
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  url.search = "";
  url.hash = "";
  for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

/** An artifact of the Turborepo remote cache API: `<base>/v8/artifacts/<hash>?teamId=<team>`. */
export function artifactUrl(base: string | URL, hash: string, team: string | undefined): URL {
  return apiUrl(base, `/v8/artifacts/${hash}`, { teamId: team });
}

/**
 * A tiny HTTP client for one API origin. The token goes only to that origin:
 * GET and HEAD follow redirects (a CDN in front of the artifacts) but drop the
 * Authorization header as soon as the target leaves the configured origin; PUT
 * follows none. Bodies stream in both directions.
 */
export class Endpoint {
  readonly origin: string;
  private readonly base: URL;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(readonly config: EndpointConfig) {
    this.base = new URL(config.url);
    this.origin = this.base.origin;
    const agentOptions = { keepAlive: true, maxSockets: config.maxSockets };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  }

  /** `<base>/<path>?<query>`, keeping any path prefix of the base URL. */
  url(path: string, query: Record<string, string | undefined> = {}): URL {
    return apiUrl(this.base, path, query);
  }

  async send(method: "GET" | "HEAD" | "PUT", url: URL, options: SendOptions = {}): Promise<IncomingMessage> {
    for (let hops = 0; ; hops++) {
      const res = await this.once(method, url, options);
      const location = res.headers.location;
      if (method === "PUT" || !isRedirect(res.statusCode) || !location || hops >= MAX_REDIRECTS) return res;
      res.resume();
      const next = new URL(location, url);
      if (next.protocol !== "http:" && next.protocol !== "https:") return res;
      url = next;
    }
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private once(method: string, url: URL, options: SendOptions): Promise<IncomingMessage> {
    const headers: Record<string, string> = { "user-agent": "vite-plugin-framecache", ...options.headers };
    if (this.config.token && url.origin === this.origin) headers.authorization = `Bearer ${this.config.token}`;
    if (options.length !== undefined) headers["content-length"] = String(options.length);
    const secure = url.protocol === "https:";
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method,
        headers,
        agent: secure ? this.agents.https : this.agents.http,
        timeout: this.config.timeoutMs,
        signal: options.signal,
      });
      let timedOut = false;
      let response: IncomingMessage | undefined;
      const seconds = Math.round(this.config.timeoutMs / 100) / 10;
      req.on("timeout", () => {
        timedOut = true;
        response?.destroy(new TransportError("timeout", `no answer within ${seconds}s`));
        req.destroy();
      });
      req.on("error", (error) => {
        // After a response arrived, failures surface on the response stream instead.
        reject(
          timedOut
            ? new TransportError("timeout", `no answer within ${seconds}s`)
            : isAbort(error)
              ? error
              : new TransportError("network", (error as NodeJS.ErrnoException).code ?? error.message, { cause: error }),
        );
      });
      req.on("response", (res) => {
        response = res;
        // A body still streaming when the server already answered (413, 401) is no longer wanted.
        res.on("close", () => stopBody());
        // Readers of the body see its errors; this only keeps an unread one from crashing.
        res.on("error", () => undefined);
        resolve(res);
      });
      let stopBody = () => {};
      if (options.body) {
        const body = options.body() as Readable;
        stopBody = () => (body as { destroy?: () => void }).destroy?.();
        body.on("error", (error: Error) => req.destroy(error));
        body.pipe(req);
      } else {
        req.end();
      }
    });
  }
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function isAbort(error: Error): boolean {
  return error.name === "AbortError";
}

/** The first bytes of an error response (servers explain 400s and 403s there), as text. */
export async function errorText(res: IncomingMessage, max = 1024): Promise<string> {
  let text = "";
  try {
    for await (const chunk of res) {
      text += String(chunk);
      if (text.length >= max) break;
    }
  } catch {
    // An explanation is a courtesy; its absence is not an error.
  }
  res.destroy();
  try {
    const json = JSON.parse(text) as { message?: unknown; error?: { message?: unknown } };
    const message = json.message ?? json.error?.message;
    if (typeof message === "string") return message.slice(0, 200);
  } catch {
    // Not JSON: show it as it came.
  }
  return text.trim().slice(0, 200);
}
