import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import fg from "fast-glob";
import type { Plugin } from "vite";
import type { FramecacheError } from "../core/errors.js";
import { manifestJson, rewriteComposition, writeFrames, writeOutputFile } from "../pipeline/output.js";
import { roundMs, summaryLine } from "../ui/summary.js";
import type { PluginState } from "./state.js";

const MANIFEST = "framecache-manifest.json";

/** `vite build` and plain Rollup: extract while bundling, then rewrite HTML and place frames. */
export function buildPlugin(state: PluginState): Plugin {
  let outDir = "";
  /** Root HTML inputs, which Vite itself writes (rewritten by transformIndexHtml). */
  let viteEmitsHtml = new Set<string>();
  return {
    name: "framecache:build",
    apply: "build",

    configResolved(resolved) {
      state.configure(resolved);
    },

    // Rolldown blames the plugin whose hook awaits for the time it waits; buildEnd's wait is
    // the extraction itself, which our summary reports, so its timing warning would only mislead.
    // Left alone when the user chose a value, and never set in plain Rollup, which lacks the option.
    options(inputOptions) {
      const checks = (inputOptions as { checks?: Record<string, unknown> }).checks;
      if (!state.vite || checks?.bundlerTimings !== undefined || checks?.pluginTimings !== undefined) return null;
      return { ...inputOptions, checks: { ...checks, bundlerTimings: false } } as typeof inputOptions;
    },

    async buildStart(inputOptions) {
      const engine = state.newEngine();
      const { html, globbed } = await compositionRoots(state.root, inputOptions.input, state.options.compositions);
      viteEmitsHtml = new Set(state.vite ? html : []);
      // Extraction runs beside bundling; buildEnd waits for it.
      state.run = engine.run([...new Set([...html, ...globbed])]);
      state.run.catch(() => undefined);
    },

    async buildEnd(error) {
      if (error || !state.run) return;
      const { errors } = await state.run;
      if (errors.length > 0) this.error(combine(errors, state.root));
    },

    transformIndexHtml: {
      order: "post",
      async handler(html, ctx) {
        const run = await state.run;
        const composition = run?.compositions.get(resolve(ctx.filename));
        if (!run || !composition) return html;
        return rewriteComposition(html, composition, run.results, state.base, state.assetsDir);
      },
    },

    async generateBundle(outputOptions) {
      const run = await state.run;
      if (!run) return;
      outDir = outputOptions.dir ?? (outputOptions.file ? resolve(outputOptions.file, "..") : resolve("dist"));
      for (const composition of run.compositions.values()) {
        if (viteEmitsHtml.has(composition.file)) continue;
        const html = rewriteComposition(composition.html, composition, run.results, state.base, state.assetsDir);
        this.emitFile({ type: "asset", fileName: composition.label, source: html });
      }
      const all = [...run.results, ...state.imported];
      if (all.length > 0) this.emitFile({ type: "asset", fileName: MANIFEST, source: manifestJson(all, state.assetsDir) });
    },

    async writeBundle() {
      const run = await state.run;
      const engine = state.engine;
      if (!run || !engine) return;
      const report = engine.report;
      const emitStarted = performance.now();
      const placed = await writeFrames([...run.results, ...state.imported], outDir, state.assetsDir);
      report.emitMs += performance.now() - emitStarted;
      report.framesWritten = placed.frames;
      report.bytesWritten = placed.bytes;
      await engine.collectGarbage();
      report.totalMs = performance.now() - state.started;
      if (state.options.report !== false && report.videos > 0) {
        await writeFile(join(outDir, state.options.report), JSON.stringify(report, roundMs, 2) + "\n");
      }
    },

    // After Vite's own file listing, so the summary is the last word of the build.
    async closeBundle() {
      const engine = state.engine;
      if (!engine || !state.run) return;
      const report = engine.report;
      engine.logger.flush();
      if (report.videos > 0 || report.skippedRemote > 0) state.logger.info(summaryLine(report));
      if (report.compositionsWithScriptedVideo > 0) {
        state.logger.info(
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
