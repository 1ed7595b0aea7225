import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import fg from "fast-glob";
import type { Plugin, ResolvedConfig } from "vite";
import type { FramecacheError } from "../core/errors.js";
import { urlPrefixFor } from "../core/paths.js";
import { framesDir, manifestJson, resultsByComposition, rewriteComposition, writeFrames } from "../pipeline/output.js";
import { dropMarker, keepFrames, returnFrames, type KeptFrames } from "../store/kept-frames.js";
import { roundMs, summaryLine } from "../ui/summary.js";
import { closesAfterFailedBuildEnd, isRolldown } from "./compat.js";
import type { Run } from "./run.js";
import type { PluginShared } from "./shared.js";

const MANIFEST = "framecache-manifest.json";

/** `vite build` and plain Rollup: extract while bundling, then rewrite HTML and place frames. */
export function buildPlugin(shared: PluginShared): Plugin {
  /** Root HTML inputs, which Vite itself writes (rewritten by transformIndexHtml). */
  let viteEmitsHtml = new Set<string>();
  /** Each output's frames from before the build, out of the way of Vite's emptying until writeBundle. */
  const kept = new Map<string, KeptFrames>();
  /** The run between buildStart and closeBundle: a buildEnd that resumes after (another plugin's failed first) keeps nothing. */
  let open: Run | undefined;
  return {
    name: "framecache:build",
    apply: "build",

    // Rolldown blames the plugin whose hook awaits for the time it waits; buildEnd's wait is
    // the extraction itself, which our summary reports, so its timing warning would only mislead.
    // Left alone when the user chose a value, and never set under Rollup (plain, or Vite 5 to 7), which lacks the option.
    options(inputOptions) {
      const checks = (inputOptions as { checks?: Record<string, unknown> }).checks;
      if (!shared.context.vite || !isRolldown(this.meta) || checks?.bundlerTimings !== undefined || checks?.pluginTimings !== undefined) return null;
      return { ...inputOptions, checks: { ...checks, bundlerTimings: false } } as typeof inputOptions;
    },

    async buildStart(inputOptions) {
      const run = shared.startRun();
      open = run;
      const { root, vite, options } = shared.context;
      const { html, globbed } = await compositionRoots(root, inputOptions.input, options.compositions);
      viteEmitsHtml = new Set(vite ? html : []);
      // Extraction runs beside bundling; buildEnd waits for it.
      run.extract([...new Set([...html, ...globbed])]);
    },

    async buildEnd(error) {
      const run = shared.run;
      if (error || !run?.extraction) return;
      const { errors, results } = await run.extraction;
      if (errors.length > 0) this.error(combine(errors, shared.context.root));
      // The last hook before Vite empties the output, in every major since 5. Each environment (Vite 6
      // and later) has its own output and buildEnd. Watch mode empties at other times: left alone.
      const config = (this as { environment?: { config: ResolvedConfig } }).environment?.config ?? shared.context.config;
      if (!config || config.build.write === false || this.meta.watchMode || !closesAfterFailedBuildEnd(this.meta)) return;
      if (results.length + run.imported.length === 0) return;
      const outDir = resolve(config.root, config.build.outDir);
      const store = await run.engine.storeDir();
      if (open !== run || kept.has(outDir)) return;
      const frames = keepFrames(outDir, join(outDir, framesDir(shared.context.assetsDir, "")), store);
      if (frames) kept.set(outDir, frames);
    },

    transformIndexHtml: {
      order: "post",
      async handler(html, ctx) {
        const built = await shared.run?.extraction;
        const composition = built?.compositions.get(resolve(ctx.filename));
        if (!built || !composition) return html;
        const { base, assetsDir } = shared.context;
        return rewriteComposition(html, composition, built.results, urlPrefixFor(base, composition.output), assetsDir, built.timing);
      },
    },

    async generateBundle() {
      const run = shared.run;
      const built = await run?.extraction;
      if (!run || !built) return;
      const { base, assetsDir } = shared.context;
      const byComposition = resultsByComposition(built.results);
      for (const composition of built.compositions.values()) {
        if (viteEmitsHtml.has(composition.file)) continue;
        const results = byComposition.get(composition) ?? [];
        const html = rewriteComposition(composition.html, composition, results, urlPrefixFor(base, composition.output), assetsDir, built.timing);
        this.emitFile({ type: "asset", fileName: composition.output, source: html });
      }
      const all = [...built.results, ...run.imported];
      if (all.length > 0) this.emitFile({ type: "asset", fileName: MANIFEST, source: manifestJson(all, assetsDir) });
    },

    // Once per output: a build with several writes the frames beside each one's files.
    async writeBundle(outputOptions) {
      const run = shared.run;
      const built = await run?.extraction;
      if (!run || !built) return;
      const { options, assetsDir } = shared.context;
      const outDir = resolve(outputOptions.dir ?? (outputOptions.file ? resolve(outputOptions.file, "..") : "dist"));
      const engine = run.engine;
      const report = engine.report;
      const emitStarted = performance.now();
      const all = [...built.results, ...run.imported];
      const previous = kept.get(outDir);
      kept.delete(outDir);
      if (previous) returnFrames(previous, new Set(all.map((v) => v.entry.name)));
      else dropMarker(outDir);
      const placed = await writeFrames(all, outDir, assetsDir);
      report.emitMs += performance.now() - emitStarted;
      report.framesWritten = placed.frames;
      report.bytesWritten = placed.bytes;
      await engine.collectGarbage();
      report.totalMs = performance.now() - run.started;
      if (options.report !== false && report.videos > 0) {
        await writeFile(join(outDir, options.report), JSON.stringify(report, roundMs, 2) + "\n");
      }
    },

    // After Vite's own file listing, so the summary is the last word of the build.
    async closeBundle() {
      open = undefined;
      // Not written (a failed build, or another output's): back as they were, unless Vite emptied the output.
      for (const frames of kept.values()) returnFrames(frames);
      kept.clear();
      const run = shared.run;
      if (!run?.extraction) return;
      const { engine } = run;
      const { logger } = shared.context;
      const report = engine.report;
      engine.logger.flush();
      if (report.videos > 0 || report.skippedRemote > 0) logger.info(summaryLine(report));
      if (report.compositionsWithScriptedVideo > 0) {
        logger.info(
          `framecache  ${report.compositionsWithScriptedVideo} composition(s) create <video> elements from scripts; those videos cannot be found at build time`,
        );
      }
      await engine.dispose();
    },
  };
}

/** HTML inputs of the build plus the `compositions` globs, as absolute paths. */
export async function compositionRoots(root: string, input: unknown, globs: string[]): Promise<{ html: string[]; globbed: string[] }> {
  const inputs = typeof input === "string" ? [input] : Array.isArray(input) ? input : Object.values((input ?? {}) as Record<string, string>);
  const html = inputs
    .filter((i): i is string => typeof i === "string" && i.endsWith(".html"))
    .map((i) => resolve(root, i));
  const globbed = globs.length ? await fg(globs, { cwd: root, absolute: true, onlyFiles: true }) : [];
  return { html, globbed: globbed.map((f) => resolve(f)) };
}

/** Every failing video in one message; Vite shows the first location in its frame. */
function combine(errors: FramecacheError[], root: string): { message: string; code: string; id?: string; loc?: { file: string; line: number; column: number } } {
  const first = errors[0]!;
  const message =
    errors.length === 1 ? first.message : `${errors.length} videos failed:\n` + errors.map((e) => `- [${e.code}] ${e.message}`).join("\n");
  // Rollup counts columns from 0; an absolute file lets editors and terminals open it.
  const file = first.loc && resolve(root, first.loc.file);
  return { message, code: first.code, id: file, loc: first.loc && { file: file!, line: first.loc.line, column: first.loc.column - 1 } };
}
