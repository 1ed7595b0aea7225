import type { Logger } from "../core/logger.js";
import { createProgress, type ProgressReporter } from "../ui/progress.js";
import { colorsFor, type Colors, type TermStream } from "../ui/terminal.js";

/** The global flags every command honours. */
export interface OutputFlags {
  /** Errors only: no progress, no warnings, no summary (JSON asked for is still printed). */
  quiet?: boolean;
  /** Also what each step did: extractions started, cache outcome per video, phase timings. */
  verbose?: boolean;
}

export interface CliOutput {
  /** Messages for people, on stderr. */
  logger: Required<Logger>;
  /** Results (summary lines, tables, JSON), on stdout. */
  print(line: string): void;
  /** The live progress line on stderr; none with --quiet. */
  progress?: ProgressReporter;
  /** Colours for stdout, off when it is not a terminal or NO_COLOR is set. */
  colors: Colors;
  quiet: boolean;
  verbose: boolean;
}

export interface Streams {
  stdout: TermStream;
  stderr: TermStream;
  env: NodeJS.ProcessEnv;
}

/** How the CLI talks: results on stdout, everything else on stderr, around one live progress line. */
export function cliOutput(flags: OutputFlags, io: Streams = { stdout: process.stdout, stderr: process.stderr, env: process.env }): CliOutput {
  const quiet = Boolean(flags.quiet);
  const verbose = Boolean(flags.verbose) && !quiet;
  const err = colorsFor(io.stderr, io.env);
  let progress: ProgressReporter | undefined;
  const say = (line: string) => {
    progress?.clear();
    io.stderr.write(line + "\n");
  };
  const logger: Required<Logger> = {
    info: (message) => quiet || say(message),
    warn: (message) => quiet || say(err.yellow(message)),
    error: (message) => say(err.red(message)),
    debug: (message) => verbose && say(err.dim(message)),
  };
  if (!quiet) progress = createProgress({ stream: io.stderr, log: logger.info, env: io.env });
  return {
    logger,
    print: (line) => {
      progress?.clear();
      io.stdout.write(line + "\n");
    },
    progress,
    colors: colorsFor(io.stdout, io.env),
    quiet,
    verbose,
  };
}
