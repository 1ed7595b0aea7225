import { FramecacheError } from "../core/errors.js";

/** A full disk (or quota) met by the store's own writes as FC_NO_SPACE with its fix; any other error as it was. */
export function orNoSpace(storeDir: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return error;
  return new FramecacheError("FC_NO_SPACE", `the disk holding the cache ${storeDir} is full`, {
    hint: "Free disk space or lower maxCacheSize, then run `framecache gc`.",
    cause: error,
  });
}
