import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FramecacheError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { resolveCacheDir } from "../core/paths.js";
import { openStore } from "../store/store.js";

/**
 * Where this run's entries live: the configured cache, or, when caching is off or the cache
 * cannot be written (one warning), a temporary store removed by `dispose`.
 */
export class StoreDir {
  private opening?: Promise<string>;
  private temporary?: string;

  constructor(
    private readonly root: string,
    private readonly cacheDir: string | undefined,
    private readonly logger: Logger,
  ) {}

  get(): Promise<string> {
    this.opening ??= (async () => {
      if (this.cacheDir !== undefined) {
        const dir = resolveCacheDir(this.root, this.cacheDir);
        try {
          await openStore(dir);
          return dir;
        } catch (error) {
          // An unusable cache costs the cache, not the build: its mapped error (code, cause, fix) as a warning.
          const { code, detail, hint, message } = error as FramecacheError;
          const why = detail ? `${code}: ${detail}` : message;
          this.logger.warn(`framecache: cache directory ${dir} cannot be written (${why}); extracting without a cache${hint ? `. ${hint}` : ""}`);
        }
      }
      this.temporary = await mkdtemp(join(tmpdir(), "framecache-"));
      return this.temporary;
    })();
    return this.opening;
  }

  /** True until a temporary store was chosen; what lands in a temporary store is not remembered. */
  get cached(): boolean {
    return this.temporary === undefined;
  }

  /** True once `get` was called. */
  get opened(): boolean {
    return this.opening !== undefined;
  }

  async dispose(): Promise<void> {
    if (this.temporary) await rm(this.temporary, { recursive: true, force: true });
  }
}
