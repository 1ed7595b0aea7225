import type { Plugin, ResolvedConfig } from "vite";
import type { ResolvedOptions } from "../core/options.js";
import type { DevSession } from "../pipeline/dev-session.js";
import type { Engine } from "../pipeline/engine.js";
import { PluginContext } from "./context.js";
import { Run } from "./run.js";

/**
 * What the plugins of one `framecache()` call share: the context, resolved once per Vite
 * config by contextPlugin (plain Rollup, which has none, gets defaults on first use), and
 * the current run. Both change only through the methods below.
 */
export class PluginShared {
  #context?: PluginContext;
  #run?: Run;
  /** Plain Rollup's root: the directory `framecache()` was called in. */
  readonly #cwd = process.cwd();

  constructor(readonly options: ResolvedOptions) {}

  get context(): PluginContext {
    return (this.#context ??= new PluginContext(this.options, { cwd: this.#cwd }));
  }

  /** The build or dev server running now; undefined before the first. */
  get run(): Run | undefined {
    return this.#run;
  }

  /** Vite resolved its config: the context for every run that starts from now on. */
  configure(config: ResolvedConfig): void {
    this.#context = new PluginContext(this.options, { config });
  }

  /** A new run, with a new engine, replaces the current one. */
  startRun(dev?: (engine: Engine) => DevSession): Run {
    this.#run = new Run(this.context, dev);
    return this.#run;
  }
}

/** First of the plugins: builds the context, Vite's progress line included, for build and dev alike. */
export function contextPlugin(shared: PluginShared): Plugin {
  return {
    name: "framecache:context",
    configResolved(config) {
      shared.configure(config);
    },
  };
}
