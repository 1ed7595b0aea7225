import { resolve } from "node:path";
import { resolveOptions } from "../core/options.js";
import { runDoctor, type Check, type CheckStatus } from "../pipeline/doctor.js";
import { columnsOf, type Colors } from "../ui/terminal.js";
import type { CliOutput } from "./output.js";

export interface DoctorFlags {
  json?: boolean;
  /** Only the checks that are not ok. */
  quiet?: boolean;
  cacheDir?: string;
  root?: string;
  env?: NodeJS.ProcessEnv;
}

/** `framecache doctor`: every check with ok, warn or fail and the fix; exit 1 when one fails. */
export async function doctorCommand(
  flags: DoctorFlags,
  out: Pick<CliOutput, "print" | "colors">,
  // Logs are not wrapped at 80: only a terminal is that narrow.
  columns = process.stdout.isTTY ? columnsOf(process.stdout) : 100,
): Promise<number> {
  const env = flags.env ?? process.env;
  const options = resolveOptions({ cacheDir: flags.cacheDir }, env);
  const checks = await runDoctor({ options, root: resolve(flags.root ?? process.cwd()), cacheDirFrom: cacheDirFrom(flags.cacheDir, env), env });
  const failed = checks.some((c) => c.status === "fail");
  if (flags.json) out.print(JSON.stringify({ ok: !failed, checks }, null, 2));
  else if (flags.quiet) for (const line of checkLines(checks.filter((c) => c.status !== "ok"), out.colors, Math.min(columns, 100))) out.print(line);
  else for (const line of renderChecks(checks, out.colors, Math.min(columns, 100))) out.print(line);
  return failed ? 1 : 0;
}

/** Mirrors resolveOptions' order, to say where the directory came from. */
function cacheDirFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined) return "from --cache-dir";
  if (env.FRAMECACHE_DIR) return "from FRAMECACHE_DIR";
  if (env.HYPERFRAMES_EXTRACT_CACHE_DIR) return "from HYPERFRAMES_EXTRACT_CACHE_DIR";
  return "the default";
}

const LABEL: Record<CheckStatus, (c: Colors) => string> = {
  ok: (c) => c.green("ok  "),
  warn: (c) => c.yellow("warn"),
  fail: (c) => c.red("fail"),
};

/** Every check, then a verdict such as `2 of 7 checks failed`. */
export function renderChecks(checks: Check[], c: Colors, columns: number): string[] {
  const lines = checkLines(checks, c, columns);
  const count = (s: CheckStatus) => checks.filter((k) => k.status === s).length;
  const [fails, warns, n] = [count("fail"), count("warn"), checks.length];
  const warned = warns > 0 ? `${warns} warned` : "";
  const verdict =
    fails > 0
      ? c.red(`${fails} of ${n} checks failed`) + (warned && `, ${c.yellow(warned)}`)
      : warns > 0
        ? c.yellow(`${warned} of ${n} checks`) + ", none failed"
        : c.green(`all ${n} checks ok`);
  return [...lines, "", verdict];
}

/** `  ok    ffmpeg        5.1.4 at /usr/bin/ffmpeg (found on PATH)`, then an indented fix line. */
function checkLines(checks: Check[], c: Colors, columns: number): string[] {
  const width = Math.max(0, ...checks.map((k) => k.title.length));
  const indent = " ".repeat(2 + 4 + 2 + width + 2);
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`  ${LABEL[check.status](c)}  ${c.bold(check.title.padEnd(width))}  ${check.detail}`);
    if (check.fix) lines.push(...wrap(`fix: ${check.fix}`, columns - indent.length).map((l) => indent + c.dim(l)));
  }
  return lines;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > Math.max(20, width)) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}
