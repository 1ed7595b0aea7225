import { isAbsolute, relative, resolve } from "node:path";
import type { CAC } from "cac";
import { FramecacheError } from "../core/errors.js";
import { formatAge, formatBytes, parseDuration, parseSize } from "../core/format.js";
import { resolveOptions } from "../core/options.js";
import { cleanStore, collectGarbage } from "../store/gc.js";
import { isStray, readInventory, type EntryInfo } from "../store/inventory.js";
import { verifyStore } from "../store/verify.js";
import { downloadsJson, downloadsOf, downloadsTable } from "./downloads.js";
import { fields, table } from "./table.js";

export interface StoreFlags {
  cacheDir?: string;
  json?: boolean;
  fix?: boolean;
  maxSize?: string | number;
  maxAge?: string | number;
  dryRun?: boolean;
  yes?: boolean;
}

export interface CliIO {
  print(text: string): void;
  /** Usage messages, to stderr. */
  error(text: string): void;
  cwd: string;
  now?: number;
}

/** `ls`, `stats`, `verify`, `gc` and `clean`: the store's command-line face. */
export function registerStoreCommands(cli: CAC, io: CliIO): void {
  const run = (command: (flags: StoreFlags, io: CliIO) => Promise<number>) => async (flags: StoreFlags) => {
    process.exitCode = await command(flags, io);
  };
  cli
    .command("ls", "List cache entries: frames, size, last use, source")
    .option("--json", "Print JSON")
    .example("framecache ls")
    .example("framecache ls --json --cache-dir node_modules/.cache/framecache")
    .action(run(lsCommand));
  cli
    .command("stats", "Totals: entries, frames, size against the budget")
    .option("--max-size <size>", "Budget to compare against (default: 5GB)")
    .option("--json", "Print JSON")
    .example("framecache stats")
    .example("framecache stats --max-size 2GB --json")
    .action(run(statsCommand));
  cli
    .command("verify", "Check entries: sentinel, key, frames, digest")
    .option("--fix", "Remove bad entries, stray partials and stale locks")
    .option("--json", "Print JSON")
    .example("framecache verify")
    .example("framecache verify --fix --json")
    .action(run(verifyCommand));
  cli
    .command("gc", "Evict least recently used entries to the budget")
    .option("--max-size <size>", "Budget, e.g. 5GB or 500MB (default: 5GB)")
    .option("--max-age <age>", "Also evict entries unused this long, e.g. 30d or 12h")
    .option("--dry-run", "Show what would be removed, remove nothing")
    .option("--json", "Print JSON")
    .example("framecache gc")
    .example("framecache gc --max-size 2GB --max-age 14d --dry-run --json")
    .action(run(gcCommand));
  cli
    .command("clean", "Remove every entry (asks for --yes)")
    .option("--yes", "Confirm")
    .option("--json", "Print JSON")
    .example("framecache clean --yes")
    .example("framecache clean --yes --json")
    .action(run(cleanCommand));
}

/** The store the command acts on: --cache-dir, else the env and default the plugin uses. */
export function storeDirFrom(flags: StoreFlags, cwd: string): string {
  const dir = flags.cacheDir ?? resolveOptions({}).cacheDir;
  if (dir === undefined) {
    throw new FramecacheError("FC_BAD_OPTION", "caching is off (FRAMECACHE_DIR is off), so there is no cache to work on", {
      hint: "Pass --cache-dir DIR.",
    });
  }
  return resolve(cwd, String(dir));
}

function sizeFlag(flags: StoreFlags): number {
  const size = parseSize(flags.maxSize ?? "5GB");
  if (size === undefined) throw new FramecacheError("FC_BAD_OPTION", `--max-size ${flags.maxSize} is not a size`, { hint: 'Use bytes or a size such as "5GB" or "500MB".' });
  return size;
}

function json(io: CliIO, value: unknown): void {
  io.print(JSON.stringify(value, null, 2));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const STATUS: Record<EntryInfo["kind"], string> = { entry: "ok", legacy: "legacy", incomplete: "incomplete", bad: "bad" };

export async function lsCommand(flags: StoreFlags, io: CliIO): Promise<number> {
  const dir = storeDirFrom(flags, io.cwd);
  const now = io.now ?? Date.now();
  const { entries } = await readInventory(dir, now);
  const sorted = [...entries].sort((a, b) => b.lastUsed - a.lastUsed || a.name.localeCompare(b.name));
  const downloads = await downloadsOf(dir);
  if (flags.json) {
    json(io, {
      cacheDir: dir,
      downloads: downloadsJson(downloads),
      entries: sorted.map((e) => ({
        name: e.name,
        status: STATUS[e.kind],
        frames: e.frames,
        bytes: e.bytes,
        format: e.format ?? null,
        lastUsed: iso(e.lastUsed),
        created: e.sentinel?.created ?? null,
        source: e.sentinel?.source ?? null,
        key: e.sentinel?.key ?? null,
        input: e.sentinel?.input ?? null,
      })),
    });
    return 0;
  }
  if (sorted.length === 0) io.print(`No entries in ${displayPath(dir, io.cwd)}`);
  else {
    const rows = sorted.map((e) => [e.name, String(e.frames), formatBytes(e.bytes), formatAge(now - e.lastUsed), describeSource(e, io.cwd)]);
    io.print(table(["ENTRY", "FRAMES", "SIZE", "LAST USED", "SOURCE"], rows, [1, 2]));
  }
  if (downloads.length > 0) io.print(`\n${downloadsTable(downloads, now)}`);
  return 0;
}

function describeSource(e: EntryInfo, cwd: string): string {
  if (e.kind === "legacy") return "(HyperFrames engine entry)";
  if (e.kind === "incomplete") return "(incomplete: no sentinel)";
  if (e.kind === "bad" || !e.sentinel) return `(bad: ${e.reason})`;
  const { input, source } = e.sentinel;
  const where = source ? displayPath(source, cwd) : input.p;
  const span = input.d < 0 ? "to the end" : `+${input.d} s`;
  return `${where} [${input.ms} s ${span}, ${input.f} fps${input.t ? `, ${input.t}` : ""}]`;
}

function count(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

export async function statsCommand(flags: StoreFlags, io: CliIO): Promise<number> {
  const dir = storeDirFrom(flags, io.cwd);
  const budget = sizeFlag(flags);
  const now = io.now ?? Date.now();
  const inventory = await readInventory(dir, now);
  const complete = inventory.entries.filter((e) => e.kind !== "incomplete");
  const byAge = [...complete].sort((a, b) => a.lastUsed - b.lastUsed);
  const bytes = complete.reduce((n, e) => n + e.bytes, 0);
  const stray = inventory.sides.filter((s) => isStray(s, inventory, now)).length;
  const staleLocks = inventory.locks.filter((l) => l.state.kind === "stale").length;
  const at = (e: EntryInfo | undefined) => (e ? { name: e.name, lastUsed: iso(e.lastUsed) } : null);
  const stats = {
    cacheDir: dir,
    exists: inventory.exists,
    entries: complete.length,
    legacy: complete.filter((e) => e.kind === "legacy").length,
    bad: complete.filter((e) => e.kind === "bad").length,
    frames: complete.reduce((n, e) => n + e.frames, 0),
    bytes,
    budget,
    oldest: at(byAge[0]),
    newest: at(byAge.at(-1)),
    partials: inventory.sides.length + inventory.entries.length - complete.length,
    strayPartials: stray,
    locks: inventory.locks.length,
    staleLocks,
  };
  if (flags.json) {
    json(io, stats);
    return 0;
  }
  const percent = budget > 0 ? ` (${((bytes / budget) * 100).toFixed(1)}%)` : "";
  const used = (e: EntryInfo | undefined) => (e ? `${e.name}, used ${formatAge(now - e.lastUsed)}` : "-");
  io.print(
    fields([
      ["cache", displayPath(dir, io.cwd) + (inventory.exists ? "" : " (does not exist yet)")],
      ["entries", `${stats.entries}` + (stats.legacy ? ` (${stats.legacy} from the HyperFrames engine)` : "") + (stats.bad ? `, ${stats.bad} bad` : "")],
      ["frames", String(stats.frames)],
      ["size", `${formatBytes(bytes)} of ${formatBytes(budget)} budget${percent}`],
      ["oldest", used(byAge[0])],
      ["newest", used(byAge.at(-1))],
      ["partials", `${stats.partials - stray} in progress, ${stray} stray`],
      ["locks", `${stats.locks - staleLocks} held, ${staleLocks} stale`],
    ]),
  );
  return 0;
}

export async function verifyCommand(flags: StoreFlags, io: CliIO): Promise<number> {
  const dir = storeDirFrom(flags, io.cwd);
  const stats = await verifyStore(dir, { fix: flags.fix, now: io.now });
  const code = stats.badRemaining > 0 ? 1 : 0;
  if (flags.json) {
    json(io, { cacheDir: dir, ok: code === 0, ...stats });
    return code;
  }
  for (const p of stats.problems) {
    const what = p.fixed ? "removed" : p.bad ? "bad" : "leftover";
    io.print(`${what.padEnd(8)}  ${p.name}  [${p.step}] ${p.reason}`);
  }
  const good = stats.verified;
  const parts = [
    `${count(stats.entries, "entry", "entries")} checked (${stats.framesChecked} frames, ${formatBytes(stats.bytesChecked)} digested)`,
    `${good} ok`,
    `${stats.badEntries} bad`,
    count(stats.strayPartials, "stray partial"),
    count(stats.staleLocks, "stale lock"),
  ];
  if (stats.downloads > 0 || stats.badDownloads > 0) parts.push(`${count(stats.downloads, "download")} checked, ${stats.badDownloads} bad`);
  io.print(`verify  ${parts.join(" · ")}`);
  if (flags.fix) {
    const r = stats.removed;
    io.print(`fixed   removed ${count(r.entries, "bad entry", "bad entries")}, ${count(r.partials, "partial")}, ${count(r.locks, "lock")}`);
  } else if (stats.problems.length > 0) {
    io.print("Run `framecache verify --fix` to remove them.");
  }
  return code;
}

export async function gcCommand(flags: StoreFlags, io: CliIO): Promise<number> {
  const dir = storeDirFrom(flags, io.cwd);
  const maxSize = sizeFlag(flags);
  const maxAgeMs = flags.maxAge === undefined ? undefined : parseDuration(String(flags.maxAge));
  if (flags.maxAge !== undefined && maxAgeMs === undefined) {
    throw new FramecacheError("FC_BAD_OPTION", `--max-age ${flags.maxAge} is not a duration`, { hint: "Use a number with a unit: 30d, 12h, 45m." });
  }
  const stats = await collectGarbage(dir, { maxSize, maxAgeMs, dryRun: flags.dryRun, now: io.now });
  if (flags.json) {
    json(io, { cacheDir: dir, dryRun: flags.dryRun ?? false, maxSize, maxAgeMs: maxAgeMs ?? null, ...stats });
    return 0;
  }
  const verb = flags.dryRun ? "would evict" : "evicted";
  for (const name of [...stats.evictedEntries, ...stats.downloads.evictedDownloads]) io.print(`${verb}  ${name}`);
  const parts = [
    `${verb} ${count(stats.evicted, "entry", "entries")} (${formatBytes(stats.bytesFreed)})`,
    `${count(stats.partialsRemoved, "partial")} and ${count(stats.locksRemoved, "stale lock")} ${flags.dryRun ? "to remove" : "removed"}`,
    `${count(stats.kept, "entry", "entries")} kept (${formatBytes(stats.bytesKept)} of ${formatBytes(maxSize)})`,
  ];
  const d = stats.downloads;
  if (d.evicted + d.kept > 0) parts.push(`downloads: ${verb} ${d.evicted} (${formatBytes(d.bytesFreed)}), ${d.kept} kept (${formatBytes(d.bytesKept)})`);
  if (stats.spared + d.spared > 0) parts.push(`${stats.spared + d.spared} spared (used in the last hour or locked)`);
  io.print(`gc  ${parts.join(" · ")}`);
  return 0;
}

export async function cleanCommand(flags: StoreFlags, io: CliIO): Promise<number> {
  const dir = storeDirFrom(flags, io.cwd);
  if (!flags.yes) {
    io.error(`framecache clean removes every entry in ${displayPath(dir, io.cwd)}; run \`framecache clean --yes\` to confirm`);
    return 2;
  }
  const stats = await cleanStore(dir, io.now);
  if (flags.json) {
    json(io, { cacheDir: dir, ...stats });
    return 0;
  }
  const skipped = stats.skipped ? ` · ${stats.skipped} left (a running process holds them)` : "";
  io.print(`clean  removed ${count(stats.removed, "entry", "entries")} (${formatBytes(stats.bytesFreed)}), ${count(stats.partialsRemoved, "partial")}, ${count(stats.locksRemoved, "stale lock")}${skipped}`);
  return 0;
}
