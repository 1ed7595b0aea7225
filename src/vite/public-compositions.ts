import { readFile, realpath } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { cleanUrlPath, isInside } from "../core/paths.js";
import type { DevSession } from "../pipeline/dev-session.js";

/**
 * Vite serves `publicDir` files as they are, past every transform, so a composition there (what
 * `data-composition-src="/scene.html"` fetches) would reach the page without its frames. This
 * answers such a request with the composition as the session rewrites it; any other public file,
 * and a public HTML file with no video, is left to Vite.
 */
export function publicCompositions(session: DevSession, publicDir: string | undefined) {
  return (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    const path = cleanUrlPath(req.url ?? "");
    if (!publicDir || (req.method !== "GET" && req.method !== "HEAD") || !path.endsWith(".html")) return next();
    // A failure here is not the project's (the session reports those); Vite's error page shows it.
    serve(session, publicDir, path, req, res).then((served) => served || next(), next);
  };
}

async function serve(session: DevSession, publicDir: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const dir = await realpath(publicDir).catch(() => undefined);
  // Resolved through links and checked against the public folder, so no URL can read elsewhere.
  const file = dir && (await realpath(join(dir, path)).catch(() => undefined));
  if (!dir || !file || !isInside(file, dir)) return false;
  const page = await session.page(file, await readFile(file, "utf8"));
  if (page.videos === 0) return false;
  res.statusCode = 200;
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Cache-Control", "no-cache");
  res.end(req.method === "HEAD" ? undefined : page.html);
  return true;
}
