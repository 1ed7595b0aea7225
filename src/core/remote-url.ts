import { createHash } from "node:crypto";

/** Sources fetched over the network and then treated as files (DESIGN §3.4, §6.2). */
const HTTP = /^(?:https?:)?\/\//i;
/** Sources no file stands behind: reported as skipped. */
const INLINE = /^(?:data:|blob:)/i;

/** An `http(s)` URL, or a protocol-relative `//host/…` (fetched over https, as a secure page would). */
export function isHttpSource(src: string): boolean {
  return HTTP.test(src);
}

export function isInlineSource(src: string): boolean {
  return INLINE.test(src);
}

/** The absolute URL a source names; undefined when it is not a well-formed http(s) URL. */
export function sourceUrl(src: string): URL | undefined {
  try {
    const url = new URL(src.startsWith("//") ? `https:${src}` : src);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

const HIDDEN = "REDACTED";

/**
 * The URL as it may be shown or written down: user info and the whole query replaced. Signed
 * bucket URLs carry their credentials there (`X-Amz-Signature`, `sig`, a bare token as a name).
 */
export function redactUrl(src: string): string {
  const url = sourceUrl(src);
  if (!url) return src.replace(/\?.*$/s, (q) => (q.length > 1 ? `?${HIDDEN}` : q));
  if (url.username || url.password) {
    url.username = HIDDEN;
    url.password = "";
  }
  const query = url.search.length > 1;
  url.search = "";
  url.hash = "";
  return query ? `${url.href}?${HIDDEN}` : url.href;
}

/** A glob of host names: `*` stands for any run of characters, dots included (`*.example.com`). */
export function hostAllowed(host: string, globs: readonly string[] | undefined): boolean {
  if (!globs) return true;
  const name = host.toLowerCase();
  return globs.some((glob) => {
    const pattern = glob.toLowerCase().split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    return new RegExp(`^${pattern}$`).test(name);
  });
}

/** The name a URL's download goes by in the store: the URL itself hashed, so a secret never becomes a file name. */
export function downloadId(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 32);
}

/** What a server said identifies the bytes it sent. */
export interface Validators {
  etag?: string;
  lastModified?: string;
  size: number;
}

/**
 * The identity of a URL's bytes that another machine can check with a `HEAD` and trust:
 * a strong ETag, else Last-Modified with the size. A weak ETag or none at all identifies nothing.
 */
export function strongValidator(v: Validators): string | undefined {
  if (v.etag && !v.etag.startsWith("W/")) return `etag:${v.etag}`;
  if (!v.etag && v.lastModified) return `modified:${v.lastModified}:${v.size}`;
  return undefined;
}

/** The shared cache's name for "the digest of this URL's bytes under this validator". */
export function sourceRecordKey(url: string, validator: string): string {
  return createHash("sha256").update(JSON.stringify({ framecacheSource: 1, url, validator })).digest("hex");
}

/**
 * Request headers from `FRAMECACHE_REMOTE_HEADERS`: a JSON object, or `Name: value` lines.
 * Undefined when the text is neither (the caller reports it without echoing the value).
 */
export function parseHeaderText(text: string): Record<string, string> | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return {};
  if (trimmed.startsWith("{")) {
    try {
      const json = JSON.parse(trimmed) as unknown;
      if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
      const entries = Object.entries(json);
      return entries.every(([, v]) => typeof v === "string") ? Object.fromEntries(entries as [string, string][]) : undefined;
    } catch {
      return undefined;
    }
  }
  const headers: Record<string, string> = {};
  for (const line of trimmed.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}
