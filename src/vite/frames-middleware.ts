import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { isUnderDevPrefix, parseDevFrameUrl } from "../core/dev-url.js";
import type { DevSession } from "../pipeline/dev-session.js";
import { openFrame } from "../store/frame-file.js";

/** Frame URLs are content-addressed: a URL never changes what it shows. */
const IMMUTABLE = "public, max-age=31536000, immutable";
const CONTENT_TYPES = { jpg: "image/jpeg", png: "image/png" } as const;

/**
 * Serve `/@framecache/<entry>/frame_<n>.<ext>` from the store. Every other
 * request under the prefix, however encoded, is answered here with a 404, so it
 * never reaches Vite's static or SPA-fallback middleware.
 */
export function framesMiddleware(session: DevSession) {
  return (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    if (!isUnderDevPrefix(path)) return next();
    serveFrame(session, req, res, path).catch(() => {
      if (!res.headersSent) text(res, 500, "framecache: could not read the frame");
      else res.destroy();
    });
  };
}

/**
 * A `?frames` request makes ffmpeg run and store an entry for as long as the server runs.
 * Any page open in the browser could send one (a `<script>` tag needs no CORS): those that
 * the browser marks as sent by another site are refused.
 */
export function crossSiteFramesGuard() {
  return (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    const query = (req.url ?? "").split("?", 2)[1];
    if (query === undefined || req.headers["sec-fetch-site"] !== "cross-site" || !new URLSearchParams(query).has("frames")) return next();
    text(res, 403, "framecache: a ?frames import requested by another site is refused");
  };
}

async function serveFrame(session: DevSession, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const frame = parseDevFrameUrl(path);
  if (!frame) return text(res, 404, "Not found");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    return text(res, 405, "Method not allowed");
  }
  const entry = await session.entry(frame.entry);
  if (entry === "timeout") {
    res.setHeader("Retry-After", "2");
    return text(res, 503, "framecache: the frames are still being extracted");
  }
  if (entry === "missing" || entry.format !== frame.format) return text(res, 404, "Not found");
  const file = await openFrame(await session.engine.storeDir(), entry, frame.index);
  if (!file) return text(res, 404, "Not found");

  const etag = `"${entry.name.slice(-16)}-${frame.index}-${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
  res.setHeader("Cache-Control", IMMUTABLE);
  res.setHeader("ETag", etag);
  res.setHeader("X-Content-Type-Options", "nosniff");
  if (matchesEtag(req.headers["if-none-match"], etag)) {
    await file.handle.close();
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader("Content-Type", CONTENT_TYPES[entry.format]);
  res.setHeader("Content-Length", String(file.size));
  if (req.method === "HEAD") {
    await file.handle.close();
    res.end();
    return;
  }
  await pipeline(file.handle.createReadStream(), res);
}

/** `If-None-Match` holds `*` or a list of tags, compared weakly as RFC 9110 asks for GET. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t.replace(/^W\//, "") === etag;
  });
}

function text(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.setHeader("Content-Length", String(Buffer.byteLength(body)));
  res.setHeader("Cache-Control", "no-store");
  res.end(body);
}
