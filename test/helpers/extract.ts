import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { FramecacheError } from "../../src/core/errors.js";
import { resolveOptions, type FramecacheOptions } from "../../src/core/options.js";
import { Engine } from "../../src/pipeline/engine.js";
import { verifyStore } from "../../src/store/verify.js";
import { writeFiles } from "./project.js";

export interface ExtractRun {
  ids: Record<string, { dir: string; frames: number }>;
  errors: FramecacheError[];
  warnings: string[];
  /** ffmpeg extractions started. */
  extracted: number;
  report: Engine["report"];
}

/** A project at `root` whose `index.html` holds `html` inside a root composition. */
export function compositionProject(root: string, html: string): string {
  writeFiles(root, { "index.html": `<!doctype html>\n<div data-composition-id="main">\n${html}\n</div>\n` });
  return root;
}

/** One run of the real Engine over `root/index.html`, as `framecache extract` does, with the environment left out of the options. */
export async function extractProject(root: string, options: FramecacheOptions = {}, cacheDir = join(root, "cache")): Promise<ExtractRun> {
  const warnings: string[] = [];
  let extracted = 0;
  const engine = new Engine({
    root,
    allow: [],
    options: resolveOptions({ cacheDir, ...options }, {}),
    logger: { info() {}, warn: (m) => void warnings.push(m) },
    onExtract: () => void extracted++,
  });
  try {
    const { results, errors } = await engine.run([join(root, "index.html")]);
    const ids = Object.fromEntries(results.map((r) => [r.ref.id, { dir: r.entry.dir, frames: r.entry.frames }]));
    return { ids, errors, warnings, extracted, report: engine.report };
  } finally {
    await engine.dispose();
  }
}

/** No partial download or lock left in the store, and every entry in it verifies. */
export async function expectCleanStore(cacheDir: string): Promise<void> {
  const downloads = join(cacheDir, "downloads");
  if (existsSync(downloads)) expect(readdirSync(downloads).filter((n) => /partial|lock/.test(n))).toEqual([]);
  const stats = await verifyStore(cacheDir);
  expect(stats.problems).toEqual([]);
}

/** A folder's frames, in order, as base64: what two extractions are compared by. */
export function frameBytes(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith("frame_"))
    .sort()
    .map((n) => readFileSync(join(dir, n)).toString("base64"));
}
