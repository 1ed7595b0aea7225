import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pacedFfmpeg, tempDir } from "./helpers/media.js";
import { plainEnv, screen, stripAnsi, underPty } from "./helpers/terminal.js";

const CLI = join(__dirname, "../dist/cli.js");
const VITE = join(__dirname, "../node_modules/vite/bin/vite.js");
const SECONDS = 8;
const FRAMES = SECONDS * 30;

// Each test extracts one clip cold, with ffmpeg paced to the clip's own rate, so that
// extraction lasts at least 8 s on any machine: past the 2 s after which progress shows,
// and past the chatty plugin's lines at 3 and 5 s, whether the machine is slow or not.
let dir: string;
let cleanup: () => void;
let env: Record<string, string>;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  mkdirSync(join(dir, "project"));
  env = plainEnv({ FFMPEG_PATH: pacedFfmpeg(dir) });
  execFileSync("ffmpeg", [
    "-v", "error", "-y", "-f", "lavfi", "-i", `testsrc2=s=640x360:r=30:d=${SECONDS}`,
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", join(dir, "project/long.mp4"),
  ]);
  writeFileSync(
    join(dir, "project/index.html"),
    `<!doctype html>\n<html><body>\n<div data-composition-id="main" data-fps="30">\n  <video id="long" src="./long.mp4"></video>\n</div>\n<script type="module" src="./main.js"></script>\n</body></html>\n`,
  );
  writeFileSync(join(dir, "project/main.js"), "export {};\n");
  writeFileSync(
    join(dir, "project/vite.config.mjs"),
    `import framecache from ${JSON.stringify(join(__dirname, "../dist/index.js"))};\n` +
      // Another plugin that logs while frames are being extracted (the live line shows from 2 s on).
      // Not unref'd: on a fast machine the build waits for both lines rather than losing one.
      `const chatty = { name: "chatty", configResolved(c) { for (const s of [3, 5]) setTimeout(() => c.logger.warn("chatty: " + s + " s in"), s * 1000); } };\n` +
      `export default { plugins: [chatty, framecache({ cacheDir: "cache-vite" })] };\n`,
  );
}, 120_000);
afterAll(() => cleanup());

/** The progress draws among the bytes: each redraw starts by erasing the line. */
function draws(raw: string): string[] {
  return raw
    .split("\r\x1b[K")
    .map((segment) => stripAnsi(segment).split(/[\r\n]/)[0]!)
    .filter((line) => line.startsWith("framecache ━"));
}

describe("progress on a terminal and in a log", () => {
  it("framecache extract on a terminal: one live line, redrawn in place, ending at 100 %", async () => {
    const run = await underPty(["node", CLI, "extract", "index.html", "--cache-dir", "cache-tty"], { cwd: join(dir, "project"), env });
    expect(run.exitCode).toBe(0);

    const lines = draws(run.output);
    const live = lines.slice(0, -1);
    expect(live.length).toBeGreaterThanOrEqual(2);
    for (const line of live) {
      expect(line).toMatch(new RegExp(`^framecache ━*─* +\\d+%  \\d+/${FRAMES} frames( · [\\d.]+ fps)?( · ETA [\\dhms ]+)? · long\\.mp4$`));
      expect(Number(/(\d+)%/.exec(line)![1])).toBeLessThan(100);
    }
    const done = live.map((l) => Number(/ (\d+)\//.exec(l)![1]));
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(lines.at(-1)).toMatch(new RegExp(`^framecache ━{20} 100%  ${FRAMES}/${FRAMES} frames · [\\d.]+ fps · [\\d.]+m?s · long\\.mp4$`));

    // What stays on the screen: the finished line, then the summary; nothing drawn over anything.
    expect(screen(run.output).filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^framecache ━{20} 100%  ${FRAMES}/${FRAMES} frames`)),
      expect.stringMatching(new RegExp(`^framecache  1 videos · 0 hit · 1 extracted · ${FRAMES} frames \\(`)),
    ]);
    // Colour on a terminal, as picocolors writes it.
    expect(run.output).toContain("\x1b[1mframecache\x1b[22m");
  }, 300_000);

  it("framecache extract in a log: plain lines without control characters; --quiet and --verbose", async () => {
    const cwd = join(dir, "project");
    const run = await execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache-log"], { cwd, env, extendEnv: false });
    const all = run.stdout + run.stderr;
    expect(all).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(run.stderr).toMatch(new RegExp(`^framecache extracting \\d+/${FRAMES} frames \\(\\d+%\\)( · [\\d.]+ fps)?( · ETA [\\dhms ]+)? · long\\.mp4$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^framecache  1 videos · 0 hit · 1 extracted · ${FRAMES} frames`));

    const quiet = await execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache-log", "--quiet"], { cwd, env, extendEnv: false });
    expect([quiet.stdout, quiet.stderr]).toEqual(["", ""]);

    const verbose = await execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache-log", "--verbose"], { cwd, env, extendEnv: false });
    expect(verbose.stderr).toMatch(new RegExp(`^hit {8}index\\.html#long long\\.mp4 → hfcache-v2-[0-9a-f]{16} \\(${FRAMES} frames\\)$`, "m"));
    expect(verbose.stderr).toMatch(/^scan \S+ · probe \S+ · hash \S+ · extract \S+ · emit \S+$/m);
    expect(verbose.stdout).toMatch(/^framecache  1 videos · 1 hit · 0 extracted/);
  }, 300_000);

  it("vite build on a terminal: the live line never draws over Vite's output", async () => {
    const run = await underPty(["node", VITE, "build"], { cwd: join(dir, "project"), env });
    expect(run.exitCode).toBe(0);
    expect(draws(run.output).length).toBeGreaterThanOrEqual(2);

    const shown = screen(run.output).filter(Boolean);
    const at = (pattern: RegExp) => shown.findIndex((l) => pattern.test(l));
    // Only the finished bar is left, on a line of its own, before Vite's own lines and our summary.
    expect(shown.filter((l) => l.includes("━"))).toEqual([expect.stringMatching(new RegExp(`^framecache ━{20} 100%  ${FRAMES}/${FRAMES} frames`))]);
    expect(at(/^vite v\S+ building/)).toBe(0);
    expect(shown).toEqual(expect.arrayContaining(["chatty: 3 s in", "chatty: 5 s in"]));
    expect(at(/^✓ \d+ modules transformed\.$/)).toBeGreaterThan(at(/━/));
    expect(at(/^✓ built in /)).toBeGreaterThan(at(/modules transformed/));
    expect(at(new RegExp(`^framecache  1 videos · 0 hit · 1 extracted · ${FRAMES} frames`))).toBeGreaterThan(at(/^✓ built in /));
  }, 300_000);
});
