import type { Logger as ViteLogger } from "vite";
import { createProgress, type ProgressOptions, type ProgressReporter } from "../ui/progress.js";
import { CLEAR_LINE, isInteractive } from "../ui/terminal.js";

const attached = new WeakMap<ViteLogger, ProgressReporter>();
const GUARDED = ["info", "warn", "warnOnce", "error", "clearScreen"] as const;

/**
 * Extraction progress for a Vite build or dev server: a live line on Vite's own terminal
 * (stdout), plain lines through Vite's logger elsewhere. Every method of Vite's logger is
 * wrapped to erase the current line first (ours, or Vite's own transient "transforming…"),
 * so nothing logged is ever appended to a half-drawn line.
 * Returns the same reporter for the same logger; undefined when Vite logs less than info.
 */
export function viteProgress(config: { logger: ViteLogger; logLevel?: string }, overrides: Partial<ProgressOptions> = {}): ProgressReporter | undefined {
  if ((config.logLevel ?? "info") !== "info") return undefined;
  const logger = config.logger;
  const known = attached.get(logger);
  if (known) return known;
  const stream = overrides.stream ?? process.stdout;
  const live = isInteractive(stream, overrides.env);
  const progress = createProgress({ log: (line) => logger.info(line), ...overrides, stream });
  for (const method of GUARDED) {
    const original = logger[method] as (...args: unknown[]) => void;
    (logger[method] as (...args: unknown[]) => void) = (...args) => {
      if (!progress.clear() && live) stream.write(CLEAR_LINE);
      original.apply(logger, args);
    };
  }
  attached.set(logger, progress);
  return progress;
}
