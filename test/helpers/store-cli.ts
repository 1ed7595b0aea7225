import { spawnSync } from "node:child_process";
import { readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { execa, type Options } from "execa";
import { afterEach, beforeEach } from "vitest";
import { tempDir } from "./media.js";

const CLI = join(__dirname, "../../dist/cli.js");
export const ENTRY = /^hfcache-v2-[0-9a-f]{16}$/;
export const HOUR = 3_600_000;

/**
 * A fresh folder and a store in it for each test (told to `each`), and the CLI run on that store
 * as a user runs it: in its own process, from the folder.
 */
export function storeCliProject(each: (dirs: { dir: string; cache: string }) => void) {
  let dir: string;
  let cache: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    cache = join(dir, "cache");
    each({ dir, cache });
  });
  afterEach(() => cleanup());

  const spawnCli = (args: string[], options: Options = {}) => execa("node", [CLI, ...args, "--cache-dir", cache], { cwd: dir, reject: false, ...options });
  const framecache = async (args: string[], options: Options = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
    const result = await spawnCli(args, options);
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  };
  return {
    spawnCli,
    framecache,
    async json<T = any>(args: string[], options: Options = {}): Promise<{ exitCode: number; out: T; stderr: string }> {
      const result = await framecache([...args, "--json"], options);
      return { exitCode: result.exitCode, out: JSON.parse(result.stdout) as T, stderr: result.stderr };
    },
    entries(): string[] {
      return readdirSync(cache).filter((n) => ENTRY.test(n)).sort();
    },
    /** What the store holds, but the digest memo (present only for sources older than a couple of seconds). */
    storeFiles(): string[] {
      return readdirSync(cache).filter((n) => n !== ".digests").sort();
    },
  };
}

export function setAge(path: string, ageMs: number): void {
  const when = new Date(Date.now() - ageMs);
  utimesSync(path, when, when);
}

/** The pid of a process that has exited. */
export function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}
