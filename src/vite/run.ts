import type { DevSession } from "../pipeline/dev-session.js";
import { Engine, type RunResult, type VideoResult } from "../pipeline/engine.js";
import type { PluginContext } from "./context.js";

export type BuildRun = RunResult;

/**
 * One build (from buildStart, or from the first `?frames` import when nothing started one)
 * or one dev server (from configureServer): its engine, and what it gathers as it goes.
 */
export class Run {
  readonly engine: Engine;
  /** Videos imported from JS with `?frames`. */
  readonly imported: VideoResult[] = [];
  readonly started: number;
  /** Set while a dev server runs: the session serving it, around this run's engine. */
  readonly dev?: DevSession;
  #extraction?: Promise<BuildRun>;

  constructor(context: PluginContext, dev?: (engine: Engine) => DevSession) {
    this.engine = new Engine({
      root: context.root,
      publicDir: context.publicDir,
      allow: [...context.allow],
      options: context.options,
      logger: context.logger,
      explain: debugEnabled(),
      progress: context.progress,
    });
    this.started = performance.now();
    this.dev = dev?.(this.engine);
  }

  /** The build's compositions, extracted beside bundling; undefined until `extract`. */
  get extraction(): Promise<BuildRun> | undefined {
    return this.#extraction;
  }

  /** Start extracting `files` (once per run); buildEnd waits for it. */
  extract(files: string[]): Promise<BuildRun> {
    if (this.#extraction) throw new Error("framecache: this build's extraction has already started");
    this.#extraction = this.engine.run(files);
    this.#extraction.catch(() => undefined);
    return this.#extraction;
  }
}

/** `FRAMECACHE_DEBUG=1` (any value but empty, 0 or false) explains each cache miss in the build log. */
function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.FRAMECACHE_DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "0" && value !== "false";
}
