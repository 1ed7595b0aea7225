import { isAbsolute, join, posix, relative, sep } from "node:path";

/** Strip query and fragment, then percent-decode (leaving malformed escapes as written). */
export function cleanUrlPath(src: string): string {
  const path = src.split(/[?#]/, 1)[0] ?? "";
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Candidate files for a `src`, lexically inside `root`: relative paths resolve
 * against the composition's folder and are clamped at the root as a browser
 * clamps `..` in a URL; a leading `/` means the root, then `publicDir`; `/@fs/` an
 * absolute path, as Vite's dev server reads it.
 */
export function sourceCandidates(src: string, compositionDir: string, root: string, publicDir?: string): string[] {
  const path = cleanUrlPath(src);
  // Vite's `/@fs/<absolute path>`: outside the root, so the caller checks it against server.fs.allow.
  if (path.startsWith(FS_PREFIX)) return [posix.normalize(path.slice(FS_PREFIX.length - 1))];
  if (path.startsWith("/")) {
    const inRoot = clampJoin(root, "", path);
    return publicDir ? [inRoot, clampJoin(publicDir, "", path)] : [inRoot];
  }
  const base = relative(root, compositionDir).split(sep).join("/");
  return [clampJoin(root, base.startsWith("..") ? "" : base, path)];
}

const FS_PREFIX = "/@fs/";

function clampJoin(root: string, base: string, path: string): string {
  const normalized = posix.normalize(`/${base}/${path}`);
  return join(root, ...normalized.split("/").filter(Boolean));
}

/** True when `path` is `dir` or lies below it. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** A relative `cacheDir` is relative to the project root (the CLI resolves its flag against the cwd first). */
export function resolveCacheDir(root: string, cacheDir: string): string {
  return isAbsolute(cacheDir) ? cacheDir : join(root, cacheDir);
}

/** A relative Vite `base` ("./"): emitted URLs are relative to the file that holds them. */
export function isRelativeBase(base: string): boolean {
  return base.startsWith(".");
}

/**
 * The prefix of an emitted file's URL written into the output file at `output` (a path in
 * the output folder): `base` itself, or under a relative base the way from that file's
 * folder back to the output folder ("./", "../../").
 */
export function urlPrefixFor(base: string, output: string): string {
  if (!isRelativeBase(base)) return base;
  const depth = output.split("/").length - 1;
  return depth === 0 ? "./" : "../".repeat(depth);
}
