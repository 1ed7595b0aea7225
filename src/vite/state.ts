import type { ResolvedConfig } from "vite";
import type { FramecacheError } from "../core/errors.js";
import type { ResolvedOptions } from "../core/options.js";
import type { Composition } from "../pipeline/compositions.js";
import type { DevSession } from "../pipeline/dev-session.js";
import { Engine, type VideoResult } from "../pipeline/engine.js";
import type { Logger } from "../core/logger.js";
import type { ExtractionProgress } from "../core/report.js";

export interface BuildRun {
  compositions: Map<string, Composition>;
  results: VideoResult[];
  errors: FramecacheError[];
}

/** What the small plugins of one `framecache()` call share. */
export class PluginState {
  root = process.cwd();
  publicDir?: string;
  allow: string[] = [];
  /** URL prefix of emitted files: Vite's `base`, or "" in plain Rollup. */
  base = "";
  assetsDir = "assets";
  logger: Logger = { info: () => {}, warn: () => {} };
  /** Set in Vite (build and dev) by progressPlugin; plain Rollup shows none. */
  progress?: ExtractionProgress;
  /** Set by Vite; plain Rollup has no root HTML. */
  vite = false;
  config?: ResolvedConfig;
  engine?: Engine;
  run?: Promise<BuildRun>;
  /** Videos imported from JS with `?frames`. */
  imported: VideoResult[] = [];
  started = 0;
  /** Set while a dev server runs. */
  dev?: DevSession;

  constructor(readonly options: ResolvedOptions) {}

  configure(resolved: ResolvedConfig): void {
    this.vite = true;
    this.config = resolved;
    this.root = resolved.root;
    this.publicDir = resolved.publicDir || undefined;
    this.allow = resolved.server.fs.allow ?? [];
    this.base = resolved.base;
    this.assetsDir = resolved.build.assetsDir;
    this.logger = resolved.logger;
  }

  newEngine(): Engine {
    this.engine = new Engine({
      root: this.root,
      publicDir: this.publicDir,
      allow: this.allow,
      options: this.options,
      logger: this.logger,
      explain: debugEnabled(),
      progress: this.progress,
    });
    this.imported = [];
    this.run = undefined;
    this.started = performance.now();
    return this.engine;
  }
}

/** `FRAMECACHE_DEBUG=1` (any value but empty, 0 or false) explains each cache miss in the build log. */
function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.FRAMECACHE_DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "0" && value !== "false";
}
