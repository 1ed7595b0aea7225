import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { runDoctor, type Check } from "../src/pipeline/doctor.js";
import { tempDir } from "./helpers/media.js";
import { plainEnv, remoteCacheServer, stripAnsi, underPty } from "./helpers/terminal.js";

const CLI = join(__dirname, "../dist/cli.js");

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

async function doctor(args: string[], env: Record<string, string> = {}) {
  const result = await execa("node", [CLI, "doctor", ...args], { cwd: dir, env: plainEnv(env), extendEnv: false, reject: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function doctorJson(args: string[], env: Record<string, string> = {}): Promise<{ exitCode?: number; ok: boolean; checks: Check[]; byId: Record<string, Check> }> {
  const run = await doctor([...args, "--json"], env);
  const parsed = JSON.parse(run.stdout) as { ok: boolean; checks: Check[] };
  return { exitCode: run.exitCode, ...parsed, byId: Object.fromEntries(parsed.checks.map((c) => [c.id, c])) };
}

describe("framecache doctor", () => {
  it("passes on a healthy machine, saying where each binary came from, and leaves nothing behind", async () => {
    const report = await doctorJson(["--cache-dir", "cache"]);
    expect(report.exitCode).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual(["ffmpeg", "ffprobe", "hdr", "libvpx", "cache", "writable", "size", "disk", "remote"]);
    const ffmpegOnPath = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
    expect(report.byId.ffmpeg).toMatchObject({ status: "ok", data: { chosenBy: "PATH", path: ffmpegOnPath } });
    expect(report.byId.ffmpeg!.detail).toMatch(/^\S+ at \/\S+ffmpeg \(found on PATH\)$/);
    // Debian's ffmpeg has libzimg and libvpx.
    expect(report.byId.hdr!.status).toBe("ok");
    expect(report.byId.libvpx!.status).toBe("ok");
    expect(report.byId.size).toMatchObject({ status: "ok", data: { bytes: 0, budget: 5e9 } });
    expect(report.byId.disk!.data!.free).toBeGreaterThan(0);
    expect(report.byId.remote).toMatchObject({ status: "ok", detail: expect.stringContaining("not configured") });
    // The writability probe created the directory to test it, and removed it again.
    expect(existsSync(join(dir, "cache"))).toBe(false);

    const human = await doctor(["--cache-dir", "cache"], { FFMPEG_PATH: ffmpegOnPath });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^ {2}ok {4}ffmpeg {8}\\S+ at ${ffmpegOnPath} \\(from FFMPEG_PATH\\)$`, "m"));
    expect(human.stdout.trim().split("\n").at(-1)).toBe("all 9 checks ok");
  });

  it("passes over a directory named ffmpeg earlier on PATH", async () => {
    const shadow = join(dir, "bin");
    mkdirSync(join(shadow, "ffmpeg"), { recursive: true });
    const report = await doctorJson([], { PATH: `${shadow}:${process.env.PATH}` });
    const ffmpegOnPath = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
    expect(report.byId.ffmpeg).toMatchObject({ status: "ok", data: { chosenBy: "PATH", path: ffmpegOnPath } });
  });

  it("fails with the fix when FFMPEG_PATH points at a file that does not exist", async () => {
    const missing = join(dir, "no/such/ffmpeg");
    const run = await doctor(["--cache-dir", "cache"], { FFMPEG_PATH: missing });
    expect(run.exitCode).toBe(1);
    const lines = run.stdout.split("\n");
    const at = lines.findIndex((l) => l.startsWith("  fail  ffmpeg"));
    expect(lines[at]).toContain(`ffmpeg at ${missing} (from FFMPEG_PATH) could not be run`);
    expect(lines[at + 1]).toMatch(/^ {22}fix: Point FFMPEG_PATH at a working ffmpeg binary, or unset it to search PATH\./);
    expect(run.stdout).toMatch(/^ {2}ok {4}ffprobe/m);
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^1 of \d+ checks failed$/);

    // --quiet: only what is wrong.
    const quiet = await doctor(["--cache-dir", "cache", "--quiet"], { FFMPEG_PATH: missing });
    expect(quiet.exitCode).toBe(1);
    expect(quiet.stdout.split("\n").filter((l) => /^ {2}\S/.test(l))).toEqual([expect.stringMatching(/^ {2}fail {2}ffmpeg /)]);

    const json = await doctorJson([], { FFMPEG_PATH: missing });
    expect(json).toMatchObject({ exitCode: 1, ok: false });
    expect(json.byId.ffmpeg).toMatchObject({ status: "fail", fix: expect.stringContaining("FFMPEG_PATH") });
    // Without an ffmpeg there is nothing to ask about filters.
    expect(json.byId.hdr).toBeUndefined();
  });

  // Tests run as root, for whom chmod changes nothing; a file where a directory must be stops root too.
  it("fails with the fix when the cache directory cannot be created under a file", async () => {
    writeFileSync(join(dir, "blocker"), "not a directory");
    const json = await doctorJson([], { FRAMECACHE_DIR: join(dir, "blocker/cache") });
    expect(json).toMatchObject({ exitCode: 1, ok: false });
    expect(json.byId.cache!.detail).toBe(`${join(dir, "blocker/cache")} (from FRAMECACHE_DIR)`);
    expect(json.byId.writable).toMatchObject({
      status: "fail",
      detail: `no: ${join(dir, "blocker")} is a file, not a directory (ENOTDIR)`,
      fix: expect.stringMatching(/^Point --cache-dir or FRAMECACHE_DIR at a writable directory/),
    });
  });

  const canMount = process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0 && tryMount();
  it.runIf(canMount)("fails with the fix when the cache directory is on a read-only mount", async () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]);
    try {
      const json = await doctorJson(["--cache-dir", ro]);
      expect(json).toMatchObject({ exitCode: 1, ok: false });
      expect(json.byId.writable).toMatchObject({ status: "fail", detail: "no: it is on a read-only file system (EROFS)" });
      expect(json.byId.size!.status).toBe("ok");
    } finally {
      execFileSync("umount", [ro]);
    }
  });

  it("reports the cache's size against its budget", async () => {
    const cache = join(dir, "cache");
    mkdirSync(join(cache, "hfcache-v2-0123456789abcdef"), { recursive: true });
    writeFileSync(join(cache, "hfcache-v2-0123456789abcdef/frame_00001.jpg"), Buffer.alloc(3000));
    const options = resolveOptions({ cacheDir: cache, maxCacheSize: 2000 }, {});
    const checks = await runDoctor({ options, root: dir, cacheDirFrom: "from the test", env: process.env });
    expect(checks.find((c) => c.id === "size")).toMatchObject({
      status: "warn",
      detail: "3.00 kB in 1 entry of a 2.00 kB budget: over budget",
      fix: expect.stringContaining("framecache gc"),
    });
    expect(readdirSync(cache)).toEqual(["hfcache-v2-0123456789abcdef"]);
  });

  it("checks a real remote cache's reachability and token", async () => {
    const server = await remoteCacheServer(join(dir, "remote"), "s3cret");
    try {
      const env = { FRAMECACHE_REMOTE_URL: server.url, FRAMECACHE_REMOTE_TEAM: "team" };
      const good = await doctorJson(["--cache-dir", "cache"], { ...env, FRAMECACHE_REMOTE_TOKEN: "s3cret" });
      expect(good.exitCode).toBe(0);
      expect(good.byId.remote).toMatchObject({ status: "ok", data: { url: server.url, httpStatus: 404, token: true } });
      expect(good.byId.remote!.detail).toMatch(/answered in \d+ms, token set and accepted, artifacts unsigned$/);

      // Signing on (from Turborepo's variable) is reported; the key is not.
      const key = "doctor-signature-key-123";
      const signedJson = await doctorJson(["--cache-dir", "cache"], { ...env, FRAMECACHE_REMOTE_TOKEN: "s3cret", TURBO_REMOTE_CACHE_SIGNATURE_KEY: key });
      expect(signedJson.byId.remote).toMatchObject({ status: "ok", data: { signed: true } });
      expect(signedJson.byId.remote!.detail).toMatch(/, artifacts signed \(x-artifact-tag\)$/);
      const signedText = await doctor(["--cache-dir", "cache"], { ...env, FRAMECACHE_REMOTE_TOKEN: "s3cret", FRAMECACHE_REMOTE_SIGNATURE_KEY: key });
      expect(signedText.stdout).toContain("artifacts signed");
      expect(signedText.stdout + signedText.stderr + JSON.stringify(signedJson)).not.toContain(key);

      const bad = await doctor(["--cache-dir", "cache"], { ...env, FRAMECACHE_REMOTE_TOKEN: "wrong" });
      expect(bad.exitCode).toBe(1);
      expect(bad.stdout).toContain(`fail  remote cache  ${server.url} refused the token (HTTP 401)`);
      expect(bad.stdout).toContain("fix: Set FRAMECACHE_REMOTE_TOKEN to a token this server accepts");
      // The token itself is never printed.
      expect(bad.stdout).not.toContain("wrong");
    } finally {
      await server.stop();
    }
    const down = await doctorJson(["--cache-dir", "cache"], { FRAMECACHE_REMOTE_URL: server.url, FRAMECACHE_REMOTE_TOKEN: "s3cret" });
    expect(down.exitCode).toBe(1);
    expect(down.byId.remote).toMatchObject({ status: "fail", detail: `${server.url} is unreachable: ECONNREFUSED` });
  });

  it("colours a terminal, but not with NO_COLOR and not a pipe", async () => {
    const colour = await underPty(["node", CLI, "doctor", "--cache-dir", "cache"], { cwd: dir, env: plainEnv() });
    expect(colour.exitCode).toBe(0);
    expect(colour.output).toContain("\x1b[32mok  \x1b[39m");
    expect(stripAnsi(colour.output)).toContain("all 9 checks ok");

    const noColor = await underPty(["node", CLI, "doctor", "--cache-dir", "cache"], { cwd: dir, env: plainEnv({ NO_COLOR: "1" }) });
    expect(noColor.output).toContain("all 9 checks ok");
    expect(noColor.output).not.toContain("\x1b");

    const piped = await doctor(["--cache-dir", "cache"]);
    expect(piped.stdout).not.toContain("\x1b");
  });
});

/** Whether this machine lets us mount a tmpfs (root in a container may not). */
function tryMount(): boolean {
  const { dir: probe, cleanup: done } = tempDir();
  try {
    const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", probe]).status === 0;
    if (ok) spawnSync("umount", [probe]);
    return ok;
  } finally {
    done();
  }
}
