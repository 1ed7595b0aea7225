#!/usr/bin/env node
import { cac } from "cac";
import { isFramecacheError } from "../core/errors.js";
import { colorsFor } from "../ui/terminal.js";
import { doctorCommand } from "./doctor.js";
import { extractCommand } from "./extract.js";
import { registerStoreCommands } from "./store.js";
import { tidyHelp } from "./help.js";
import { cliOutput } from "./output.js";

declare const __VERSION__: string;

const cli = cac("framecache");
cli.option("--cache-dir <dir>", "Cache directory (env FRAMECACHE_DIR; see framecache doctor)");
cli.option("--quiet", "Print errors only");
cli.option("--verbose", "Also print each extraction, cache outcome and timing");

cli
  .command("extract <...compositions>", "Extract the frames of compositions into the cache")
  .option("--out <dir>", "Also write compositions, frames and a manifest here")
  .option("--fps <fps>", "Frame rate when the composition sets none (30 or 30000/1001)")
  .option("--format <format>", "jpg, png or auto")
  .option("--shard <i/n>", "Extract only slice I of N (by key), so N CI jobs fill a shared cache")
  .option("--timeout <ms>", "Kill an ffmpeg run after this many ms (default 60 s + 100 ms a frame)")
  .option("--root <dir>", "Project root: compositions and videos must be inside it (default: the current directory)")
  .option("--json", "Print the report as JSON")
  .option("--explain", "For each miss, name the key fields that differ from the nearest cached entry")
  .example("framecache extract index.html --out dist")
  .example("framecache extract scenes/*.html --fps 30000/1001 --format png --json")
  .example("framecache extract site/index.html --root site --cache-dir /tmp/frames --verbose")
  .example("framecache extract index.html --quiet --timeout 600000")
  .example("framecache extract index.html --shard 1/4 --explain")
  .action(async (compositions: string[], flags) => {
    const out = cliOutput(flags);
    process.exitCode = await extractCommand(
      compositions,
      {
        out: flags.out,
        fps: flags.fps === undefined ? undefined : String(flags.fps),
        format: flags.format,
        json: flags.json,
        cacheDir: flags.cacheDir,
        shard: flags.shard === undefined ? undefined : String(flags.shard),
        root: flags.root === undefined ? undefined : String(flags.root),
        explain: flags.explain,
        timeout: flags.timeout === undefined ? undefined : String(flags.timeout),
        quiet: out.quiet,
      },
      out.logger,
      out.print,
      out.progress,
    );
  });

registerStoreCommands(cli, {
  print: (text) => process.stdout.write(text + "\n"),
  error: (text) => process.stderr.write(text + "\n"),
  cwd: process.cwd(),
});

cli
  .command("doctor", "Check ffmpeg, the cache and the remote cache")
  .option("--json", "Print the checks as JSON")
  .example("framecache doctor")
  .example("framecache doctor --quiet && vite build")
  .example("FFMPEG_PATH=/opt/ffmpeg/bin/ffmpeg framecache doctor --json")
  .action(async (flags) => {
    process.exitCode = await doctorCommand({ json: flags.json, cacheDir: flags.cacheDir, quiet: flags.quiet }, cliOutput(flags));
  });

cli.help((sections) => tidyHelp(sections, cli.matchedCommand?.description));
cli.version(typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0");

async function main(): Promise<void> {
  try {
    cli.parse(process.argv, { run: false });
    if (!cli.matchedCommand && !cli.options.help && !cli.options.version) {
      if (cli.args.length > 0) {
        process.stderr.write(`framecache: unknown command "${cli.args[0]}"\n`);
        cli.outputHelp();
        process.exitCode = 2;
        return;
      }
      cli.outputHelp();
      return;
    }
    await cli.runMatchedCommand();
  } catch (error) {
    if (isFramecacheError(error)) {
      process.stderr.write(colorsFor(process.stderr).red(`error [${error.code}] ${error.message}`) + "\n");
      process.exitCode = error.code === "FC_BAD_OPTION" ? 2 : 1;
    } else if (error instanceof Error && /missing required args|Unknown option|unknown command/i.test(error.message)) {
      process.stderr.write(`framecache: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      throw error;
    }
  }
}

await main();
