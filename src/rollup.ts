/**
 * The plugin for plain Rollup 4, typed as Rollup's plugins: Vite's `Plugin` type is Rolldown's
 * since Vite 8, which Rollup's `plugins` option does not accept, though at run time they are the
 * same plugins.
 */
import type { Plugin } from "rollup";
import type { FramecacheOptions } from "./core/options.js";
import { framecache as vitePlugins } from "./vite/plugin.js";

export function framecache(options: FramecacheOptions = {}): Plugin[] {
  return vitePlugins(options) as unknown as Plugin[];
}

export default framecache;
export type { FramecacheOptions } from "./core/options.js";
