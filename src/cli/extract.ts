import { basename, resolve } from "node:path";
import { FramecacheError, isFramecacheError } from "../core/errors.js";
import { formatDuration } from "../core/format.js";
import { resolveOptions } from "../core/options.js";
import type { Task } from "../core/plan.js";
import { inShard, parseShard } from "../core/shard.js";
import { fromMicros } from "../core/time.js";
import { Engine } from "../pipeline/engine.js";
import type { Logger } from "../core/logger.js";
import { manifestJson, resultsByComposition, rewriteComposition, writeFrames, writeOutputFile } from "../pipeline/output.js";
import type { ExtractionProgress } from "../core/report.js";
import type { Report } from "../core/report.js";
import { roundMs, summaryLine } from "../ui/summary.js";

export interface ExtractFlags {
  out?: string;
  fps?: string;
  format?: "jpg" | "png" | "auto";
  json?: boolean;
  cacheDir?: string;
  /** `I/N`: extract only this deterministic slice of the tasks, to fill a shared cache from N jobs. */
  shard?: string;
  root?: string;
  explain?: boolean;
  /** Milliseconds one ffmpeg run may take (the `timeout` option). */
  timeout?: string;
  /** No summary line (JSON asked for is still printed). */
  quiet?: boolean;
}

const ASSETS_DIR = "assets";

/** `framecache extract`: warm the store, and with --out write frames, compositions and a manifest. */
export async function extractCommand(
  files: string[],
  flags: ExtractFlags,
  logger: Logger,
  print: (line: string) => void,
  progress?: ExtractionProgress,
): Promise<number> {
  const root = resolve(flags.root ?? process.cwd());
  const fps = flags.fps === undefined ? undefined : /^\d+$/.test(flags.fps) ? Number(flags.fps) : flags.fps;
  const timeout = flags.timeout === undefined ? undefined : /^\d+$/.test(flags.timeout) ? Number(flags.timeout) : flags.timeout;
  // A path typed on the command line is relative to where it was typed, not to --root.
  const cacheDir = flags.cacheDir === undefined ? undefined : resolve(flags.cacheDir);
  const options = resolveOptions({ fps, format: flags.format, cacheDir, timeout: timeout as number | undefined });
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  if (shard && flags.out) {
    throw new FramecacheError("FC_BAD_OPTION", "--shard and --out cannot be combined: a shard holds only part of the frames", {
      hint: "Warm the cache with --shard in N jobs, then write the output from one run without --shard.",
    });
  }
    const debug = logger.debug?.bind(logger);
  const onExtract = debug && ((task: Task) => debug(`extracting ${task.entry}: ${task.source} from ${fromMicros(task.mediaStart)}s, ${task.frameCount} frames`));
  const engine = new Engine({
    root,
    allow: [],
    options,
    logger,
    progress,
    onExtract,
    explain: flags.explain,
    select: shard && ((task) => inShard(task.key, shard)),
  });
  const fail = (message: string) => (logger.error ?? logger.warn).call(logger, message);
  try {
    const { compositions, results, errors, timing } = await engine.run(files.map((f) => resolve(f)));
    for (const error of errors) fail(`error [${error.code}] ${error.message}`);
    if (flags.out) {
      const out = resolve(flags.out);
      const started = performance.now();
      const byComposition = resultsByComposition(results);
      for (const composition of compositions.values()) {
        const html = rewriteComposition(composition.html, composition, byComposition.get(composition) ?? [], "", ASSETS_DIR, timing);
        await writeOutputFile(out, composition.output, html);
      }
      const placed = await writeFrames(results, out, ASSETS_DIR);
      await writeOutputFile(out, "framecache-manifest.json", manifestJson(results, ASSETS_DIR));
      engine.report.emitMs += performance.now() - started;
      engine.report.framesWritten = placed.frames;
      engine.report.bytesWritten = placed.bytes;
    } else {
      const distinct = new Map(results.map((r) => [r.entry.name, r.entry]));
      engine.report.framesWritten = [...distinct.values()].reduce((n, e) => n + e.frames, 0);
      engine.report.bytesWritten = [...distinct.values()].reduce((n, e) => n + e.bytes, 0);
    }
    await engine.collectGarbage();
    engine.logger.flush();
    if (debug) {
      for (const r of results) debug(`${r.cache.padEnd(10)} ${r.composition.label}#${r.ref.id} ${basename(r.task.source)} → ${r.entry.name} (${r.entry.frames} frames)`);
      debug(phaseLine(engine.report));
    }
    if (flags.json) print(JSON.stringify(engine.report, roundMs, 2));
    else if (!flags.quiet) print(summaryLine(engine.report));
    return errors.length > 0 ? 1 : 0;
  } catch (error) {
    if (!isFramecacheError(error)) throw error;
    fail(`error [${error.code}] ${error.message}`);
    return 1;
  } finally {
    await engine.dispose();
  }
}

/** Where the time went: `scan 3ms · probe 41ms · hash 2ms · extract 5.12s · emit 20ms`. */
function phaseLine(r: Report): string {
  const phases = { scan: r.scanMs, probe: r.probeMs, hash: r.hashMs, extract: r.extractMs, emit: r.emitMs };
  return Object.entries(phases).map(([name, ms]) => `${name} ${formatDuration(ms)}`).join(" · ");
}
