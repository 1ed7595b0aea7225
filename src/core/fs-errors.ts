import { FramecacheError, type ErrorCode } from "./errors.js";

const UNWRITABLE = "Point cacheDir (or FRAMECACHE_DIR) at a writable directory, or fix the permissions or mount of this one; cacheDir: false extracts into the build only.";
const TOO_MANY = "Raise the open-file limit (`ulimit -n 4096`, or LimitNOFILE for a service): a run locks and writes the entries of many videos at once.";
const DAMAGED = "Run `framecache verify --fix` (or `framecache clean`), or delete the cache directory; it only holds what can be extracted again.";

/** What each failing system call means for a store, and what to do about it. */
const MAPPED: Record<string, { code: ErrorCode; why: (path: string) => string; hint: string }> = {
  ENOSPC: { code: "FC_NO_SPACE", why: (p) => `the disk holding the cache ${p} is full`, hint: "Free disk space or lower maxCacheSize, then run `framecache gc`." },
  EDQUOT: { code: "FC_NO_SPACE", why: (p) => `the disk quota holding the cache ${p} is used up`, hint: "Free disk space or lower maxCacheSize, then run `framecache gc`." },
  EACCES: { code: "FC_CACHE_UNWRITABLE", why: (p) => `${p} may not be written (EACCES: permission denied)`, hint: UNWRITABLE },
  EPERM: { code: "FC_CACHE_UNWRITABLE", why: (p) => `${p} may not be changed (EPERM: operation not permitted; immutable or owned by another user)`, hint: UNWRITABLE },
  EROFS: { code: "FC_CACHE_UNWRITABLE", why: (p) => `${p} is on a read-only file system (EROFS)`, hint: UNWRITABLE },
  EMFILE: { code: "FC_TOO_MANY_FILES", why: (p) => `this process ran out of file descriptors at ${p} (EMFILE)`, hint: TOO_MANY },
  ENFILE: { code: "FC_TOO_MANY_FILES", why: (p) => `the system ran out of file descriptors at ${p} (ENFILE)`, hint: TOO_MANY },
  ENOTDIR: { code: "FC_CACHE_DAMAGED", why: (p) => `a file stands where the cache expects a directory, at ${p} (ENOTDIR)`, hint: DAMAGED },
  EISDIR: { code: "FC_CACHE_DAMAGED", why: (p) => `a directory stands where the cache expects a file, at ${p} (EISDIR)`, hint: DAMAGED },
};


/**
 * The one place file system failures on the store's paths become FramecacheErrors: `doing` says what
 * was being done ("publishing hfcache-v2-…"), `path` where. Codes it does not know, and
 * errors that already are FramecacheErrors, pass through as they were.
 */
export function fsError(doing: string, path: string, error: unknown): unknown {
  if (error instanceof FramecacheError) return error;
  const mapped = MAPPED[(error as NodeJS.ErrnoException | undefined)?.code ?? ""];
  if (!mapped) return error;
  // A rename names both ends; the destination is the one in the way.
  const at = (error as { dest?: string }).dest ?? (error as NodeJS.ErrnoException).path ?? path;
  return new FramecacheError(mapped.code, `${doing}: ${mapped.why(at)}`, { hint: mapped.hint, cause: error });
}

/**
 * The errno behind a failed write of ffmpeg's own, from the strerror text it prints. Only causes
 * that cannot be the input's: a source that cannot be opened was refused by the probe before.
 */
const STRERROR: Array<[RegExp, string]> = [
  [/No space left on device/i, "ENOSPC"],
  [/Disk quota exceeded/i, "EDQUOT"],
  [/Read-only file system/i, "EROFS"],
  [/Too many open files in system/i, "ENFILE"],
  [/Too many open files/i, "EMFILE"],
];

/** A failure ffmpeg reported in words, mapped as `fsError` maps a system call's; undefined when none matches. */
export function fsErrorFromText(doing: string, path: string, text: string): FramecacheError | undefined {
  const found = STRERROR.find(([pattern]) => pattern.test(text));
  if (!found) return undefined;
  return fsError(doing, path, Object.assign(new Error(found[1]), { code: found[1] })) as FramecacheError;
}
