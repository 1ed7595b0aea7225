import { fsError } from "../core/fs-errors.js";

/** A store operation's failure, mapped (see `fsError`): `doing` is what was being done, `path` where. */
export const storeError = fsError;

/** Run a store operation, its file system failures mapped by `storeError`. */
export async function storeIo<T>(doing: string, path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw storeError(doing, path, error);
  }
}
