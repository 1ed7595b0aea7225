import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteOptions, Report } from "../src/index.js";
import { countingFfmpeg, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { referenceProject, viteBuild, walk } from "./helpers/project.js";
import { silentServer, startRemoteServer, tarOf, type RemoteServer } from "./helpers/remote-server.js";

const CLI = join(__dirname, "../dist/cli.js");

let dir: string;
let cleanup: () => void;
let server: RemoteServer;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("framecache-remote-"));
  server = await startRemoteServer(dir);
});
afterAll(async () => {
  await server?.stop();
  cleanup?.();
});

interface ManifestVideo {
  id: string;
  entry: string;
  frames: string;
  cache: string;
}

function remote(team: string, extra: Partial<RemoteOptions> = {}): RemoteOptions {
  return { url: server.url, token: server.token, team, ...extra };
}

/** The build's framecache warnings (Vite adds its own, e.g. plugin timings on a busy machine). */
async function build(root: string, options: Parameters<typeof viteBuild>[1]) {
  const outcome = await viteBuild(root, options);
  return { ...outcome, warnings: outcome.warnings.filter((w) => w.startsWith("framecache")) };
}

/** A checkout of the reference project; copies get another path and fresh mtimes, as on another machine. */
function machine(name: string, from?: string): string {
  const root = join(dir, name);
  if (from) {
    cpSync(from, root, { recursive: true, filter: (src) => !/\/(dist|cache[^/]*|ffmpeg-[^/]*)$/.test(src) });
    const later = new Date(Date.now() + 3_600_000);
    for (const file of walk(root)) utimesSync(file, later, later);
  } else {
    referenceProject(root);
  }
  return root;
}

function readBuild(root: string) {
  const out = join(root, "dist");
  const manifest = JSON.parse(readFileSync(join(out, "framecache-manifest.json"), "utf8")) as { videos: ManifestVideo[] };
  const report = JSON.parse(readFileSync(join(out, "framecache-report.json"), "utf8")) as Record<string, number>;
  const byId = Object.fromEntries(manifest.videos.map((v) => [v.id, v]));
  return { out, manifest, report, byId, folder: (id: string) => join(out, byId[id]!.frames, "..") };
}

/** Every emitted frame, path → sha256. */
function frameDigests(root: string): Record<string, string> {
  const frames = join(root, "dist/assets/frames");
  return Object.fromEntries(walk(frames).map((f) => [relative(frames, f), createHash("sha256").update(readFileSync(f)).digest("hex")]));
}

function expectRightFrames(root: string): void {
  const { folder } = readBuild(root);
  expect(readFrameNumbers(folder("a"))).toEqual(range(0, 30));
  expect(readFrameNumbers(folder("b"))).toEqual(range(60, 45));
  expect(readFrameNumbers(folder("n"))).toEqual(range(15, 30));
}

/** The full keys of a store's entries, by entry name. */
function storeKeys(cacheDir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(cacheDir)
      .filter((name) => /^hfcache-v2-[0-9a-f]{16}$/.test(name))
      .map((name) => [name, (JSON.parse(readFileSync(join(cacheDir, name, ".hf-complete"), "utf8")) as { key: string }).key]),
  );
}

function artifactUrl(key: string, team: string): string {
  return `${server.url}/v8/artifacts/${key}?teamId=${team}`;
}

async function putArtifact(key: string, team: string, body: Buffer): Promise<void> {
  const res = await fetch(artifactUrl(key, team), {
    method: "PUT",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(body),
  });
  expect(res.status).toBe(200);
}

describe("shared cache over the Turborepo remote cache API (real turborepo-remote-cache server)", () => {
  let machineA: string;

  it("machine A extracts and uploads; machine B, elsewhere with new mtimes and an empty store, runs no ffmpeg and gets the same bytes", async () => {
    machineA = machine("a");
    const ffmpegA = countingFfmpeg(machineA);
    const a = await build(machineA, { cacheDir: join(machineA, "cache"), ffmpegPath: ffmpegA.path, remote: remote("team-ab") });
    expect(a.warnings).toEqual([]);
    expect(a.summary).toMatch(/^framecache {2}3 videos · 0 hit · 3 extracted · 105 frames/);
    expect(ffmpegA.runs()).toBe(3);
    const builtA = readBuild(machineA);
    expect(builtA.report).toMatchObject({ cacheMisses: 3, remoteHits: 0, remoteBytesDown: 0 });
    // What went up is the tar of the three entries: 105 frames, three sentinels and their headers.
    const uploaded = readdirSync(join(server.storage, "team-ab")).sort();
    expect(uploaded).toEqual(Object.values(storeKeys(join(machineA, "cache"))).sort());
    const storedBytes = uploaded.reduce((n, key) => n + readFileSync(join(server.storage, "team-ab", key)).length, 0);
    expect(builtA.report.remoteBytesUp).toBe(storedBytes);

    const machineB = machine("b", machineA);
    expect(existsSync(join(machineB, "cache"))).toBe(false);
    const ffmpegB = countingFfmpeg(machineB);
    const b = await build(machineB, { cacheDir: join(machineB, "cache"), ffmpegPath: ffmpegB.path, remote: remote("team-ab") });
    expect(b.warnings).toEqual([]);
    expect(ffmpegB.runs()).toBe(0);
    expect(b.summary).toMatch(/^framecache {2}3 videos · 0 hit · 0 extracted · 105 frames \([^)]+\) · \S+ · 3 remote$/);
    const builtB = readBuild(machineB);
    expect(builtB.manifest.videos.map((v) => v.cache)).toEqual(["remote-hit", "remote-hit", "remote-hit"]);
    expect(builtB.report).toMatchObject({ cacheHits: 0, cacheMisses: 0, remoteHits: 3, remoteBytesDown: storedBytes, remoteBytesUp: 0 });
    expect(frameDigests(machineB)).toEqual(frameDigests(machineA));
    expectRightFrames(machineB);

    // Downloaded entries are ordinary local entries now.
    const again = await build(machineB, { cacheDir: join(machineB, "cache"), ffmpegPath: ffmpegB.path, remote: remote("team-ab") });
    expect(again.summary).toMatch(/^framecache {2}3 videos · 3 hit · 0 extracted · 105 frames \([^)]+\) · \S+$/);
    expect(readBuild(machineB).report).toMatchObject({ remoteBytesDown: 0, remoteBytesUp: 0 });
  });

  it("shares an entry whose last frames are held past the source's end, though they are one file on disk", async () => {
    const team = "team-held";
    const source = machine("held");
    // 0.5 s of a 4 s clip, then 0.5 s past its end: frames 16–30 show the last frame, hard links to one file.
    writeFileSync(join(source, "index.html"), `<div data-fps="30"><video id="late" src="media/clip.mp4" data-media-start="3.5" data-duration="1"></video></div>`);
    const first = await build(source, { cacheDir: join(source, "cache"), remote: remote(team) });
    expect(first.warnings).toEqual([]);
    const other = machine("held-other", source);
    const ffmpeg = countingFfmpeg(other);
    const second = await build(other, { cacheDir: join(other, "cache"), ffmpegPath: ffmpeg.path, remote: remote(team) });
    expect(second.warnings).toEqual([]);
    expect(ffmpeg.runs()).toBe(0);
    expect(readBuild(other).report).toMatchObject({ remoteHits: 1, cacheMisses: 0 });
    expect(frameDigests(other)).toEqual(frameDigests(source));
    expect(readFrameNumbers(readBuild(other).folder("late"))).toEqual([...range(105, 15), ...Array(15).fill(119)]);
  });

  it("rejects tampered artifacts (changed frame, another entry's frames), extracts those locally, and replaces them", async () => {
    const team = "team-tamper";
    const cacheA = join(machineA, "cache");
    const keys = storeKeys(cacheA);
    const { byId } = readBuild(machineA);
    const [b, n, a] = [byId.b!, byId.n!, byId.a!];

    // b: one frame swapped for another, sentinel untouched.
    const bCopy = join(dir, "tamper-b");
    cpSync(join(cacheA, b.entry), bCopy, { recursive: true });
    writeFileSync(join(bCopy, "frame_00002.jpg"), readFileSync(join(bCopy, "frame_00003.jpg")));
    await putArtifact(keys[b.entry]!, team, await tarOf(bCopy));
    // n: a's whole artifact, intact, filed under n's key.
    await putArtifact(keys[n.entry]!, team, await tarOf(join(cacheA, a.entry)));
    // a: the genuine artifact.
    await putArtifact(keys[a.entry]!, team, await tarOf(join(cacheA, a.entry)));

    const machineC = machine("c", machineA);
    const ffmpegC = countingFfmpeg(machineC);
    const c = await build(machineC, { cacheDir: join(machineC, "cache"), ffmpegPath: ffmpegC.path, remote: remote(team) });
    expect(c.warnings).toHaveLength(2);
    expect(c.warnings).toContainEqual(expect.stringContaining(`remote artifact for ${b.entry} was rejected: its frames do not match their digest`));
    expect(c.warnings).toContainEqual(expect.stringContaining(`remote artifact for ${n.entry} was rejected: its sentinel names another key`));
    expect(ffmpegC.runs()).toBe(2);
    const builtC = readBuild(machineC);
    expect(builtC.manifest.videos.map((v) => [v.id, v.cache])).toEqual([["a", "remote-hit"], ["b", "miss"], ["n", "miss"]]);
    expect(frameDigests(machineC)).toEqual(frameDigests(machineA));
    expectRightFrames(machineC);
    // Nothing of the bad artifacts stayed behind in the store.
    expect(readdirSync(join(machineC, "cache")).filter((f) => f.includes(".partial-"))).toEqual([]);

    // The good extractions replaced the bad artifacts, so the next machine gets everything.
    const machineD = machine("d", machineA);
    const ffmpegD = countingFfmpeg(machineD);
    const d = await build(machineD, { cacheDir: join(machineD, "cache"), ffmpegPath: ffmpegD.path, remote: remote(team) });
    expect(d.warnings).toEqual([]);
    expect(ffmpegD.runs()).toBe(0);
    expect(d.summary).toMatch(/ · 3 remote$/);
    expect(frameDigests(machineD)).toEqual(frameDigests(machineA));
  });

  it("a wrong token costs one warning and a normal local build", async () => {
    const root = machine("wrong-token", machineA);
    const ffmpeg = countingFfmpeg(root);
    const built = await build(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: remote("team-ab", { token: "not-the-token" }) });
    expect(built.warnings).toEqual([
      `framecache: remote cache ${server.url} refused the token (HTTP 401: Invalid authorization token); check remote.token or FRAMECACHE_REMOTE_TOKEN; using the local cache only`,
    ]);
    expect(built.warnings[0]).not.toContain("not-the-token");
    expect(ffmpeg.runs()).toBe(3);
    expect(built.summary).toMatch(/ · 3 extracted · 105 frames/);
    expectRightFrames(root);
  });

  it("readOnly never uploads", async () => {
    const root = machine("read-only", machineA);
    const ffmpeg = countingFfmpeg(root);
    const built = await build(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: remote("team-ro", { readOnly: true }) });
    expect(built.warnings).toEqual([]);
    expect(ffmpeg.runs()).toBe(3);
    expect(readBuild(root).report.remoteBytesUp).toBe(0);
    expect(existsSync(join(server.storage, "team-ro"))).toBe(false);
  });

  it("a stopped server, a silent one, and one that refuses big artifacts each cost one warning, never the build", async () => {
    const small = await startRemoteServer(join(dir, "small"), { env: { BODY_LIMIT: "2000" } });
    let root = machine("too-large", machineA);
    let ffmpeg = countingFfmpeg(root);
    let built = await build(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: { url: small.url, token: small.token, team: "t" } });
    expect(built.warnings).toEqual([
      `framecache: remote cache ${small.url} refused an upload as too large (HTTP 413, or the connection cut mid-upload); raise its body limit (BODY_LIMIT on turborepo-remote-cache) to share big entries`,
    ]);
    expect(ffmpeg.runs()).toBe(3);
    await small.stop();

    root = machine("stopped", machineA);
    ffmpeg = countingFfmpeg(root);
    built = await build(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: { url: small.url, token: small.token, team: "t" } });
    expect(built.warnings).toEqual([`framecache: remote cache ${small.url} is unreachable (ECONNREFUSED); using the local cache only`]);
    expect(ffmpeg.runs()).toBe(3);
    expectRightFrames(root);

    const silent = await silentServer();
    try {
      root = machine("silent", machineA);
      ffmpeg = countingFfmpeg(root);
      built = await build(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: { url: silent.url, token: "t", team: "t", timeout: 300 } });
      expect(built.warnings).toEqual([`framecache: remote cache ${silent.url} gave no answer within 0.3s; using the local cache only`]);
      expect(ffmpeg.runs()).toBe(3);
      expectRightFrames(root);
    } finally {
      await silent.close();
    }
  });

  it("two shards fill the shared cache; the final build with an empty store then finds only remote hits", async () => {
    const root = machine("shards", machineA);
    const ffmpeg = countingFfmpeg(root);
    const env = {
      FFMPEG_PATH: ffmpeg.path,
      FRAMECACHE_REMOTE_URL: server.url,
      FRAMECACHE_REMOTE_TOKEN: server.token,
      FRAMECACHE_REMOTE_TEAM: "team-shards",
    };
    const shard = async (spec: string, cache: string) =>
      JSON.parse((await execa("node", [CLI, "extract", "index.html", "--shard", spec, "--cache-dir", cache, "--json"], { cwd: root, env })).stdout) as Report;
    const one = await shard("1/2", "cache-1");
    const two = await shard("2/2", "cache-2");
    // The slices are disjoint and together cover every task.
    expect(one.videos + two.videos).toBe(3);
    expect(one.cacheMisses + two.cacheMisses).toBe(3);
    expect(ffmpeg.runs()).toBe(3);
    const keys1 = Object.keys(existsSync(join(root, "cache-1")) ? storeKeys(join(root, "cache-1")) : {});
    const keys2 = Object.keys(existsSync(join(root, "cache-2")) ? storeKeys(join(root, "cache-2")) : {});
    expect(keys1.filter((k) => keys2.includes(k))).toEqual([]);
    expect(readdirSync(join(server.storage, "team-shards"))).toHaveLength(3);

    const final = await build(root, { cacheDir: join(root, "cache-final"), ffmpegPath: ffmpeg.path, remote: remote("team-shards") });
    expect(final.warnings).toEqual([]);
    expect(ffmpeg.runs()).toBe(3);
    expect(final.summary).toMatch(/^framecache {2}3 videos · 0 hit · 0 extracted · 105 frames \([^)]+\) · \S+ · 3 remote$/);
    expect(readBuild(root).manifest.videos.every((v) => v.cache === "remote-hit")).toBe(true);
    expectRightFrames(root);
  });

  it("--shard takes I/N and refuses anything else, or --out beside it", async () => {
    const root = machine("shard-usage", machineA);
    for (const bad of ["0/2", "3/2", "a/b"]) {
      const r = await execa("node", [CLI, "extract", "index.html", "--shard", bad], { cwd: root, reject: false });
      expect(r.exitCode, bad).toBe(2);
      expect(r.stderr).toContain("FC_BAD_OPTION");
    }
    const both = await execa("node", [CLI, "extract", "index.html", "--shard", "1/2", "--out", "out"], { cwd: root, reject: false });
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain("--shard and --out cannot be combined");
  });
});
