import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Header } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { computeKey, entryName, keyInput } from "../src/core/key.js";
import type { Task } from "../src/core/plan.js";
import { inShard, parseShard } from "../src/core/shard.js";
import { artifactFiles, BadArtifact, packedSize, packEntry, unpackArtifact, verifyArtifact } from "../src/store/remote/artifact.js";
import { RemoteCache } from "../src/store/remote/client.js";
import { lookupEntry, publishEntry, type StoredEntry } from "../src/store/store.js";
import { tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const FRAMES = 3;

function task(seed = "a"): Task {
  const input = keyInput({ p: `sha256:${seed.repeat(64)}`, m: 0, s: 10, ms: 0, d: 0.1, f: 30, fmt: "jpg" });
  const key = computeKey(input);
  return {
    key, entry: entryName(key), input, source: "/x", mediaStart: 0, seek: 0, origin: 0, seekable: true, span: 100_000, fps: { num: 30, den: 1 },
    format: "jpg", frameCount: FRAMES, variableFrameRate: false, framesOnTicks: true, reorders: false, recoveryPoints: false, quality: 95, size: { width: 16, height: 16 }, tonemap: false,
  };
}

/** A real published entry whose "frames" are distinct byte strings. */
async function entry(t = task()): Promise<StoredEntry> {
  return publishEntry(join(dir, "store"), t, async (partial) => {
    for (let i = 1; i <= FRAMES; i++) writeFileSync(join(partial, `frame_0000${i}.jpg`), `frame ${i} `.repeat(100 * i));
  });
}

async function bytesOf(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A hand-made tar, for entries no honest packer writes. */
function craft(entries: { path: string; type?: string; body?: string; linkpath?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const header = new Header({ path: e.path, type: (e.type ?? "File") as never, size: body.length, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath });
    const block = Buffer.alloc(512);
    header.encode(block);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function unpack(tar: Buffer, maxBytes = 1 << 30): Promise<{ dir: string; bytes: number }> {
  const out = join(dir, `out-${Math.random().toString(16).slice(2)}`);
  mkdirSync(out);
  let bytes = 0;
  // Delivered in small chunks, as a network would.
  async function* chunks() {
    for (let i = 0; i < tar.length; i += 700) yield tar.subarray(i, i + 700);
  }
  await unpackArtifact(chunks(), out, { frames: FRAMES, format: "jpg", maxBytes }, (n) => (bytes += n));
  return { dir: out, bytes };
}

describe("remote artifacts", () => {
  it("pack to a deterministic tar of known size that unpacks and verifies", async () => {
    const t = task();
    const e = await entry(t);
    const files = artifactFiles(e);
    expect(files).toEqual([".hf-complete", "frame_00001.jpg", "frame_00002.jpg", "frame_00003.jpg"]);
    const tar = await bytesOf(packEntry(e.dir, files));
    expect(await packedSize(e.dir, files)).toBe(tar.length);
    expect((await bytesOf(packEntry(e.dir, files))).equals(tar)).toBe(true);

    const got = await unpack(tar);
    expect(got.bytes).toBe(tar.length);
    expect(readdirSync(got.dir).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(got.dir, f)).equals(readFileSync(join(e.dir, f)))).toBe(true);
    await expect(verifyArtifact(got.dir, t)).resolves.toBeUndefined();
    // gzip is not what we send, but a server or proxy may add it; the caps still hold.
    await expect(unpack(gzipSync(tar)).then((g) => verifyArtifact(g.dir, t))).resolves.toBeUndefined();
  });

  it.each([
    ["a path", [{ path: "../frame_00001.jpg", body: "x" }], /unexpected file "\.\.\/frame_00001\.jpg"/],
    ["an absolute path", [{ path: "/tmp/frame_00001.jpg", body: "x" }], /unexpected file/],
    ["a nested file", [{ path: "sub/frame_00001.jpg", body: "x" }], /unexpected file/],
    ["a symlink", [{ path: "frame_00001.jpg", type: "SymbolicLink", linkpath: "/etc/passwd" }], /SymbolicLink entry "frame_00001\.jpg"/],
    ["a hard link", [{ path: "frame_00001.jpg", type: "Link", linkpath: "/etc/passwd" }], /Link entry/],
    ["a directory", [{ path: "frame_00001.jpg", type: "Directory" }], /Directory entry/],
    ["a fifo", [{ path: "frame_00001.jpg", type: "FIFO" }], /FIFO entry/],
    ["another file", [{ path: "evil.sh", body: "rm -rf /" }], /unexpected file "evil\.sh"/],
    ["a frame past the count", [{ path: "frame_00004.jpg", body: "x" }], /frame_00004\.jpg but the entry has 3 frames/],
    ["a frame of another format", [{ path: "frame_00001.png", body: "x" }], /unexpected file "frame_00001\.png"/],
    ["a frame numbered oddly", [{ path: "frame_000001.jpg", body: "x" }], /unexpected file/],
    ["a name twice", [{ path: "frame_00001.jpg", body: "x" }, { path: "frame_00001.jpg", body: "y" }], /"frame_00001\.jpg" twice/],
  ])("refuse %s, writing nothing outside their directory", async (_what, entries, reason) => {
    await expect(unpack(craft(entries))).rejects.toThrow(reason);
    expect(readdirSync(dir).filter((f) => !f.startsWith("out-"))).toEqual([]);
  });

  it("refuse garbage, a truncated tar, and anything bigger than the cap", async () => {
    const e = await entry();
    const tar = await bytesOf(packEntry(e.dir, artifactFiles(e)));
    await expect(unpack(Buffer.from("<html>502 Bad Gateway</html>"))).rejects.toThrow(BadArtifact);
    await expect(unpack(tar.subarray(0, 1500))).rejects.toThrow(BadArtifact);
    await expect(unpack(tar, tar.length - 1)).rejects.toThrow(/larger than/);
  });

  it("verification refuses another key, another frame count, a changed frame, a missing frame", async () => {
    const t = task();
    const e = await entry(t);
    const tar = await bytesOf(packEntry(e.dir, artifactFiles(e)));

    await expect(unpack(tar).then((g) => verifyArtifact(g.dir, task("b")))).rejects.toThrow("its sentinel names another key");
    await expect(unpack(tar).then((g) => verifyArtifact(g.dir, { ...t, frameCount: 2 }))).rejects.toThrow("it holds 3 jpg frames where 2 jpg were planned");

    const changed = await unpack(tar);
    writeFileSync(join(changed.dir, "frame_00002.jpg"), "frame 9 ".repeat(200));
    await expect(verifyArtifact(changed.dir, t)).rejects.toThrow("its frames do not match their digest");

    const partial = await unpack(craft([{ path: ".hf-complete", body: readFileSync(join(e.dir, ".hf-complete"), "utf8") }, { path: "frame_00001.jpg", body: "x" }]));
    await expect(verifyArtifact(partial.dir, t)).rejects.toThrow("frames are missing");
    const unsigned = await unpack(craft([{ path: "frame_00001.jpg", body: "x" }]));
    await expect(verifyArtifact(unsigned.dir, t)).rejects.toThrow("it has no sentinel");
  });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe("remote client", () => {
  it("follows a GET redirect to another origin without the token, and never redirects a PUT", async () => {
    const t = task();
    const e = await entry(t);
    const artifact = await bytesOf(packEntry(e.dir, artifactFiles(e)));
    const seen: { where: string; method: string; url: string; headers: IncomingHttpHeaders }[] = [];
    const cdn = await listen((req, res) => {
      seen.push({ where: "cdn", method: req.method!, url: req.url!, headers: req.headers });
      req.resume();
      if (req.method === "HEAD") res.writeHead(404).end();
      else res.end(artifact);
    });
    const api = await listen((req, res) => {
      seen.push({ where: "api", method: req.method!, url: req.url!, headers: req.headers });
      req.resume();
      res.writeHead(307, { location: `${cdn.url}/blobs${req.url}` }).end();
    });
    const warnings: string[] = [];
    const counters = { remoteBytesDown: 0, remoteBytesUp: 0 };
    const client = new RemoteCache({ url: `${api.url}/prefix/`, token: "s3cret", team: "t", maxArtifactBytes: 1 << 30 }, { info() {}, warn: (m) => void warnings.push(m) }, counters);
    try {
      const store = join(dir, "other-store");
      mkdirSync(store);
      const fetched = await client.fetch(t, store);
      expect(fetched?.dir).toBe(join(store, t.entry));
      expect(await lookupEntry(store, t)).toMatchObject({ frames: FRAMES, bytes: e.bytes });
      expect(counters.remoteBytesDown).toBe(artifact.length);
      expect(seen.map((s) => [s.where, s.method, s.url])).toEqual([
        ["api", "GET", `/prefix/v8/artifacts/${t.key}?teamId=t`],
        ["cdn", "GET", `/blobs/prefix/v8/artifacts/${t.key}?teamId=t`],
      ]);
      expect(seen[0]!.headers.authorization).toBe("Bearer s3cret");
      expect(seen[1]!.headers.authorization).toBeUndefined();

      seen.length = 0;
      client.upload(t, e);
      await client.flush();
      // The HEAD is redirected (and answered by the CDN) without the token; the PUT is not followed.
      expect(seen.map((s) => [s.where, s.method])).toEqual([["api", "HEAD"], ["cdn", "HEAD"], ["api", "PUT"]]);
      expect(seen[1]!.headers.authorization).toBeUndefined();
      expect(seen[2]!.headers["content-length"]).toBe(String(artifact.length));
      expect(counters.remoteBytesUp).toBe(0);
      expect(warnings).toEqual([`framecache: remote cache ${api.url} answered HTTP 307; using the local cache only`]);
    } finally {
      await client.close();
      api.server.close();
      cdn.server.close();
    }
  });
});

describe("--shard", () => {
  it("puts every key in exactly one of N shards, the same one every time", () => {
    const keys = Array.from({ length: 200 }, (_, i) => task(String.fromCharCode(97 + (i % 26)) + i).key);
    for (const n of [1, 2, 3, 7]) {
      const shards = Array.from({ length: n }, (_, i) => parseShard(`${i + 1}/${n}`));
      for (const key of keys) expect(shards.filter((s) => inShard(key, s))).toHaveLength(1);
      // Roughly balanced: no shard of 200 random keys is empty.
      for (const s of shards) expect(keys.some((k) => inShard(k, s))).toBe(true);
    }
    expect(parseShard(" 2/3 ")).toEqual({ index: 2, count: 3 });
    for (const bad of ["0/2", "3/2", "1/0", "1/2/3", "-1/2", "1.5/2", ""]) expect(() => parseShard(bad), bad).toThrow(/--shard/);
  });
});
