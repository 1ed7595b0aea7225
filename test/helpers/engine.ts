import { join } from "node:path";
import { resolveOptions, type FramecacheOptions } from "../../src/core/options.js";
import type { Binary } from "../../src/media/binaries.js";
import { Engine, type VideoResult } from "../../src/pipeline/engine.js";
import { writeFiles } from "./project.js";

export interface EngineRun {
  byId: Record<string, VideoResult>;
  errors: Awaited<ReturnType<Engine["run"]>>["errors"];
  warnings: string[];
  ffmpeg: Binary;
}

/** One `<video>` line of a composition, attributes in order. */
export function videoTag(id: string, src: string, attrs: Record<string, string | number> = {}): string {
  const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${v}"`).join("");
  return `<video id="${id}" src="${src}"${extra}></video>`;
}

/**
 * Write `index.html` around the given `<video>` tags and run the real Engine on it
 * (probe, plan, ffmpeg, store), as `vite build` and `framecache extract` do.
 */
export type EngineOptions = FramecacheOptions & { dataFps?: string | number };

export async function runEngine(root: string, videos: string[], options: EngineOptions = {}): Promise<EngineRun> {
  const { dataFps, ...pluginOptions } = options;
  const fpsAttr = dataFps === undefined ? "" : ` data-fps="${dataFps}"`;
  writeFiles(root, {
    "index.html": `<!doctype html>\n<div data-composition-id="main"${fpsAttr}>\n  ${videos.join("\n  ")}\n</div>\n`,
  });
  const warnings: string[] = [];
  const engine = new Engine({
    root,
    allow: [],
    options: resolveOptions({ cacheDir: join(root, "cache"), ...pluginOptions }),
    logger: { info() {}, warn: (m) => void warnings.push(m) },
  });
  try {
    const { results, errors } = await engine.run([join(root, "index.html")]);
    const { ffmpeg } = await engine.binaries();
    return { byId: Object.fromEntries(results.map((r) => [r.ref.id, r])), errors, warnings, ffmpeg };
  } finally {
    await engine.dispose();
  }
}
