import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, expect } from "vitest";
import { tempDir } from "./media.js";
import { writeFiles } from "./project.js";

const CLI = join(__dirname, "../../dist/cli.js");

export interface BadInputDirs {
  dir: string;
  /** The project, inside `dir`. */
  root: string;
  /** The store, beside the project. */
  cache: string;
}

/**
 * A project and its store in a fresh temporary folder for each test (told to `each`), and what
 * the bad-input tests do with them: through the real CLI, and checking that the store is left
 * as valid as before.
 */
export function badInputProject(each: (dirs: BadInputDirs) => void) {
  let dirs: BadInputDirs;
  let cleanup: () => void;
  beforeEach(() => {
    const made = tempDir();
    cleanup = made.cleanup;
    dirs = { dir: made.dir, root: join(made.dir, "project"), cache: join(made.dir, "cache") };
    mkdirSync(dirs.root);
    mkdirSync(dirs.cache);
    each(dirs);
  });
  afterEach(() => cleanup());

  const cli = (args: string[], env: Record<string, string> = {}) => execa(process.execPath, [CLI, ...args], { cwd: dirs.root, env, reject: false });
  return {
    cli,
    /** index.html with one composition holding `video`, which sits at index.html:3:3. */
    composition(video: string): void {
      writeFiles(dirs.root, { "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n  ${video}\n</div>\n` });
    },
    /** An executable script, for injecting one failure of ffmpeg. */
    script(name: string, body: string): string {
      const path = join(dirs.dir, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    },
    /** No partial directory or lock anywhere in the store, and `framecache verify` passes on it. */
    async expectCleanStore(store = dirs.cache): Promise<void> {
      const leftovers = (readdirSync(store, { recursive: true, withFileTypes: false }) as string[]).filter((n) => /\.partial-|\.lock$/.test(n));
      expect(leftovers).toEqual([]);
      const verify = await cli(["verify", "--cache-dir", store]);
      expect(verify.stdout + verify.stderr, "framecache verify").toMatch(/ 0 bad /);
      expect(verify.exitCode).toBe(0);
    },
  };
}

/** Each manifest video's frames folder, relative to `out`, in document order. */
export function manifestFrames(out: string): string[] {
  const manifest = JSON.parse(readFileSync(join(out, "framecache-manifest.json"), "utf8")) as { videos: { frames: string }[] };
  return manifest.videos.map((v) => dirname(v.frames));
}
