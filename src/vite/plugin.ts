import type { Plugin } from "vite";
import { resolveOptions, type FramecacheOptions } from "../core/options.js";
import { buildPlugin } from "./build.js";
import { devPlugin } from "./dev.js";
import { importPlugin } from "./import.js";
import { contextPlugin, PluginShared } from "./shared.js";

/**
 * Replace every `<video>` of your HTML compositions with frame-accurate stills,
 * extracted once per distinct input and kept in an on-disk cache.
 */
export function framecache(options: FramecacheOptions = {}): Plugin[] {
  const shared = new PluginShared(resolveOptions(options));
  return [contextPlugin(shared), buildPlugin(shared), devPlugin(shared), importPlugin(shared)];
}
