import type { ResolvedConfig } from "vite";
import type { Logger } from "../core/logger.js";
import type { ResolvedOptions } from "../core/options.js";
import type { ExtractionProgress } from "../core/report.js";
import { viteProgress } from "./progress.js";

/**
 * What the plugins of one `framecache()` call read about the project: built once from Vite's
 * resolved config, or from plain Rollup's defaults, and frozen. Whatever changes from one
 * build to the next lives in a Run.
 */
export class PluginContext {
  readonly root: string;
  readonly publicDir?: string;
  /** Directories besides the root that may be read (Vite's `server.fs.allow`). */
  readonly allow: readonly string[];
  /** URL prefix of emitted files: Vite's `base`, or "" in plain Rollup. */
  readonly base: string;
  readonly assetsDir: string;
  readonly logger: Logger;
  /** Vite's progress line (build and dev); plain Rollup shows none. */
  readonly progress?: ExtractionProgress;
  /** Vite's resolved config; undefined in plain Rollup, which has no root HTML either. */
  readonly config?: ResolvedConfig;

  /** From Vite's resolved config; without one, plain Rollup's defaults with `cwd` as the root. */
  constructor(
    readonly options: ResolvedOptions,
    source: { config: ResolvedConfig } | { cwd: string },
  ) {
    if ("config" in source) {
      const config = source.config;
      this.config = config;
      this.root = config.root;
      this.publicDir = config.publicDir || undefined;
      this.allow = Object.freeze([...(config.server.fs.allow ?? [])]);
      this.base = config.base;
      this.assetsDir = config.build.assetsDir;
      this.logger = config.logger;
      this.progress = viteProgress(config);
    } else {
      this.root = source.cwd;
      this.allow = Object.freeze([]);
      this.base = "";
      this.assetsDir = "assets";
      this.logger = { info: () => {}, warn: () => {} };
    }
    Object.freeze(this);
  }

  /** Set by Vite, in build and in dev; plain Rollup has no root HTML. */
  get vite(): boolean {
    return this.config !== undefined;
  }
}
