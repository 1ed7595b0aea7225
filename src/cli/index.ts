#!/usr/bin/env node
import { cac } from "cac";
import pc from "picocolors";
import { isFramecacheError } from "../core/errors.js";
import type { Logger } from "../pipeline/logger.js";
import { extractCommand } from "./extract.js";
import { registerStoreCommands } from "./store.js";

declare const __VERSION__: string;

const stderrLogger: Logger = {
  info: (message) => process.stderr.write(message + "\n"),
  warn: (message) => process.stderr.write(pc.yellow(message) + "\n"),
};

const cli = cac("framecache");
cli.option("--cache-dir <dir>", "Cache root (default: FRAMECACHE_DIR or node_modules/.cache/framecache)");

cli
  .command("extract <...compositions>", "Extract the frames of compositions into the cache")
  .option("--out <dir>", "Also write compositions, frames and a manifest here")
  .option("--fps <fps>", "Frame rate when the composition sets none (30 or 30000/1001)")
  .option("--format <format>", "jpg, png or auto")
  .option("--shard <i/n>", "Extract only slice I of N (by key), so N CI jobs fill a shared cache")
  .option("--timeout <ms>", "Kill an ffmpeg run after this many milliseconds (default: 60 s + 100 ms a frame)")
  .option("--json", "Print the report as JSON")
  .option("--explain", "For each miss, name the key fields that differ from the nearest cached entry")
  .example("framecache extract index.html --out dist")
  .action(async (compositions: string[], flags) => {
    process.exitCode = await extractCommand(
      compositions,
      {
        out: flags.out,
        fps: flags.fps === undefined ? undefined : String(flags.fps),
        format: flags.format,
        json: flags.json,
        cacheDir: flags.cacheDir,
        shard: flags.shard === undefined ? undefined : String(flags.shard),
        explain: flags.explain,
        timeout: flags.timeout === undefined ? undefined : String(flags.timeout),
      },
      stderrLogger,
      (line) => process.stdout.write(line + "\n"),
    );
  });

registerStoreCommands(cli, {
  print: (text) => process.stdout.write(text + "\n"),
  error: (text) => process.stderr.write(text + "\n"),
  cwd: process.cwd(),
});

cli.help();
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
      process.stderr.write(pc.red(`error [${error.code}] ${error.message}`) + "\n");
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
