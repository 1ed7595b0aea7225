import { createHash, createHmac } from "node:crypto";
import { cpSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteOptions } from "../src/index.js";
import { digestFrames } from "../src/store/sentinel.js";
import { countingFfmpeg, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { referenceProject, viteBuild, walk } from "./helpers/project.js";
import { startRemoteServer, tarOf, type RemoteServer } from "./helpers/remote-server.js";

const KEY = "sig-key-7f3a9c1e-never-printed";
let dir: string;
let cleanup: () => void;
/** Keeps tags: turborepo-remote-cache stores and returns `x-artifact-tag` only with a signature key of its own set. */
let server: RemoteServer;
/** Keeps none, as a server set up without it. */
let plain: RemoteServer;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("framecache-signed-"));
  [server, plain] = await Promise.all([
    startRemoteServer(join(dir, "tags"), { env: { TURBO_REMOTE_CACHE_SIGNATURE_KEY: "server-switch" } }),
    startRemoteServer(join(dir, "plain")),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), plain?.stop()]);
  cleanup?.();
});

function remote(team: string, key: string | undefined, on = server): RemoteOptions {
  return { url: on.url, token: on.token, team, ...(key ? { signature: { key } } : {}) };
}

/** Turborepo's tag, computed here on its own: base64(HMAC-SHA256(key, hash ‖ teamId ‖ artifact)). */
function turboTag(key: string, hash: string, team: string, body: Buffer): string {
  return createHmac("sha256", key).update(hash).update(team).update(body).digest("base64");
}

async function build(root: string, team: string, key: string | undefined, on = server) {
  const ffmpeg = countingFfmpeg(root);
  const outcome = await viteBuild(root, { cacheDir: join(root, "cache"), ffmpegPath: ffmpeg.path, remote: remote(team, key, on) });
  return { ...outcome, ffmpeg, warnings: outcome.warnings.filter((w) => w.startsWith("framecache")) };
}

function machine(name: string, from?: string): string {
  const root = join(dir, name);
  if (!from) return (referenceProject(root), root);
  cpSync(from, root, { recursive: true, filter: (src) => !/\/(dist|cache[^/]*|ffmpeg-[^/]*)$/.test(src) });
  const later = new Date(Date.now() + 3_600_000);
  for (const file of walk(root)) utimesSync(file, later, later);
  return root;
}

function manifest(root: string) {
  const out = join(root, "dist");
  const m = JSON.parse(readFileSync(join(out, "framecache-manifest.json"), "utf8")) as { videos: Array<{ id: string; entry: string; frames: string; cache: string }> };
  return { videos: m.videos, folder: (id: string) => join(out, m.videos.find((v) => v.id === id)!.frames, "..") };
}

function expectRightFrames(root: string): void {
  const { folder } = manifest(root);
  expect(readFrameNumbers(folder("a"))).toEqual(range(0, 30));
  expect(readFrameNumbers(folder("b"))).toEqual(range(60, 45));
  expect(readFrameNumbers(folder("n"))).toEqual(range(15, 30));
}

function frameDigests(root: string): Record<string, string> {
  const frames = join(root, "dist/assets/frames");
  return Object.fromEntries(walk(frames).map((f) => [relative(frames, f), createHash("sha256").update(readFileSync(f)).digest("hex")]));
}

function keyOf(entryDir: string): string {
  return (JSON.parse(readFileSync(join(entryDir, ".hf-complete"), "utf8")) as { key: string }).key;
}

/** Every stored artifact of a team carries the tag Turborepo would compute for it. */
function expectSignedStorage(on: RemoteServer, team: string, key: string): void {
  const files = readdirSync(join(on.storage, team));
  const artifacts = files.filter((f) => !f.endsWith(".tag"));
  expect(artifacts.length).toBeGreaterThan(0);
  for (const hash of artifacts) {
    const tag = readFileSync(join(on.storage, team, `${hash}.tag`), "utf8");
    expect(tag).toBe(turboTag(key, hash, team, readFileSync(join(on.storage, team, hash))));
  }
}

/** An entry with frame 2 replaced by frame 3 and its sentinel rewritten to match: only a signature can tell. */
async function forge(entryDir: string, into: string): Promise<Buffer> {
  cpSync(entryDir, into, { recursive: true });
  writeFileSync(join(into, "frame_00002.jpg"), readFileSync(join(into, "frame_00003.jpg")));
  const sentinel = JSON.parse(readFileSync(join(into, ".hf-complete"), "utf8")) as { frames: number; format: "jpg"; digest: string; bytes: number };
  const actual = await digestFrames(into, sentinel.frames, sentinel.format);
  writeFileSync(join(into, ".hf-complete"), JSON.stringify({ ...sentinel, digest: actual.digest, bytes: actual.bytes }));
  return tarOf(into);
}

async function put(on: RemoteServer, hash: string, team: string, body: Buffer, tag?: string): Promise<void> {
  const headers: Record<string, string> = { authorization: `Bearer ${on.token}`, "content-type": "application/octet-stream" };
  if (tag) headers["x-artifact-tag"] = tag;
  const res = await fetch(`${on.url}/v8/artifacts/${hash}?teamId=${team}`, { method: "PUT", headers, body: new Uint8Array(body) });
  expect(res.status).toBe(200);
}

/** Everything a build leaves to read: its logs, its output, the store and the server's storage. */
function everythingWritten(outcomes: Array<{ logs: string[]; warnings: string[] }>, roots: string[]): string {
  const files = [...roots.flatMap(walk), ...walk(server.storage)].filter((f) => !/\.(jpg|png|mp4|webm)$/.test(f));
  return [...outcomes.flatMap((o) => [...o.logs, ...o.warnings]), ...files.map((f) => readFileSync(f, "utf8"))].join("\n");
}

describe("signed shared-cache artifacts (Turborepo's x-artifact-tag, real turborepo-remote-cache)", () => {
  let machineA: string;
  const outcomes: Array<{ logs: string[]; warnings: string[] }> = [];
  const roots: string[] = [];

  it("A signs what it uploads exactly as Turborepo does; B, with the key, takes it and runs no ffmpeg", async () => {
    machineA = machine("a");
    const a = await build(machineA, "team-s", KEY);
    expect(a.warnings).toEqual([]);
    expect(a.ffmpeg.runs()).toBe(3);
    expectSignedStorage(server, "team-s", KEY);

    const machineB = machine("b", machineA);
    const b = await build(machineB, "team-s", KEY);
    expect(b.warnings).toEqual([]);
    expect(b.ffmpeg.runs()).toBe(0);
    expect(manifest(machineB).videos.map((v) => v.cache)).toEqual(["remote-hit", "remote-hit", "remote-hit"]);
    expect(frameDigests(machineB)).toEqual(frameDigests(machineA));
    expectRightFrames(machineB);
    outcomes.push(a, b);
    roots.push(machineA, machineB);
  });

  it("refuses self-consistent forgeries signed with another key: one warning, extracted locally, exact frames, uploaded again signed", async () => {
    const team = "team-forged";
    const cacheA = join(machineA, "cache");
    const { videos } = manifest(machineA);
    const [a, b] = [videos.find((v) => v.id === "a")!, videos.find((v) => v.id === "b")!];
    for (const [i, v] of [a, b].entries()) {
      const hash = keyOf(join(cacheA, v.entry));
      const forged = await forge(join(cacheA, v.entry), join(dir, `forged-${i}`));
      await put(server, hash, team, forged, turboTag("another-key", hash, team, forged));
    }

    const machineC = machine("c", machineA);
    const c = await build(machineC, team, KEY);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/sent artifacts without a valid signature \(first: hfcache-v2-[0-9a-f]{16} its signature does not match the key\); they are extracted locally and uploaded again signed/);
    expect(c.ffmpeg.runs()).toBe(3);
    expect(manifest(machineC).videos.map((v) => v.cache)).toEqual(["miss", "miss", "miss"]);
    expectRightFrames(machineC);
    expect(frameDigests(machineC)).toEqual(frameDigests(machineA));
    expect(readdirSync(join(machineC, "cache")).filter((f) => f.includes(".partial-"))).toEqual([]);
    // The forgeries were replaced by signed genuine artifacts.
    expectSignedStorage(server, team, KEY);
    const machineD = machine("d", machineA);
    const d = await build(machineD, team, KEY);
    expect(d.warnings).toEqual([]);
    expect(d.ffmpeg.runs()).toBe(0);
    expectRightFrames(machineD);
    outcomes.push(c, d);
    roots.push(machineC, machineD);
  });

  it("a reader with the wrong key refuses genuine artifacts; without a key nothing changes", async () => {
    const wrong = machine("wrong", machineA);
    const w = await build(wrong, "team-s", "not-the-key");
    expect(w.warnings).toHaveLength(1);
    expect(w.warnings[0]).toContain("its signature does not match the key");
    expect(w.ffmpeg.runs()).toBe(3);
    expectRightFrames(wrong);

    // No key, a server that keeps no tags: uploads carry none, downloads need none.
    const first = machine("plain-1", machineA);
    const p1 = await build(first, "team-p", undefined, plain);
    expect(p1.warnings).toEqual([]);
    expect(readdirSync(join(plain.storage, "team-p")).filter((f) => f.endsWith(".tag"))).toEqual([]);
    const second = machine("plain-2", machineA);
    const p2 = await build(second, "team-p", undefined, plain);
    expect(p2.warnings).toEqual([]);
    expect(p2.ffmpeg.runs()).toBe(0);
    expectRightFrames(second);

    // With a key against that server, its untagged artifacts are refused, once.
    const strict = machine("plain-strict", machineA);
    const s = await build(strict, "team-p", KEY, plain);
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toContain("carries no signature");
    expect(s.warnings[0]).toContain("TURBO_REMOTE_CACHE_SIGNATURE_KEY set");
    expect(s.ffmpeg.runs()).toBe(3);
    expectRightFrames(strict);
    outcomes.push(w, s);
    roots.push(wrong, strict);
  });

  it("never prints, logs or writes the key", () => {
    const text = everythingWritten(outcomes, roots);
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(KEY);
  });

  it("takes the key from FRAMECACHE_REMOTE_SIGNATURE_KEY, else TURBO_REMOTE_CACHE_SIGNATURE_KEY, and keeps it out of JSON and inspect", async () => {
    const { resolveOptions } = await import("../src/core/options.js");
    const { inspect } = await import("node:util");
    const base = { remote: { url: server.url } };
    const own = resolveOptions(base, { FRAMECACHE_REMOTE_SIGNATURE_KEY: "k1", TURBO_REMOTE_CACHE_SIGNATURE_KEY: "k2" });
    expect(own.remote!.signature!.key).toBe("k1");
    expect(resolveOptions(base, { TURBO_REMOTE_CACHE_SIGNATURE_KEY: "k2" }).remote!.signature!.key).toBe("k2");
    expect(resolveOptions({ remote: { url: server.url, signature: false } }, { TURBO_REMOTE_CACHE_SIGNATURE_KEY: "k2" }).remote!.signature).toBeUndefined();
    expect(resolveOptions(base, {}).remote!.signature).toBeUndefined();
    const secret = resolveOptions({ remote: { url: server.url, signature: { key: KEY } } }, {});
    expect(JSON.stringify(secret)).not.toContain(KEY);
    expect(inspect(secret, { depth: 9 })).not.toContain(KEY);
    expect(() => resolveOptions({ remote: { url: server.url, signature: { key: "" } } }, {})).toThrow(/remote\.signature\.key/);
  });
});
