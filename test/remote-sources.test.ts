import { copyFileSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveOptions, type FramecacheOptions } from "../src/core/options.js";
import { Engine } from "../src/pipeline/engine.js";
import { verifyStore } from "../src/store/verify.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { startMediaServer, selfSignedCert, type MediaServer } from "./helpers/media-server.js";
import { compositionProject, expectCleanStore, extractProject, frameBytes } from "./helpers/extract.js";
import { startRemoteServer, type RemoteServer } from "./helpers/remote-server.js";

const CLI = join(__dirname, "../dist/cli.js");
const tmp = tempDir("framecache-remote-src-");
let media: MediaServer;
/** Two coded sources: 2 s and 1 s at 30 fps. */
let longClip: string;
let shortClip: string;

beforeAll(async () => {
  longClip = makeCodedVideo(join(tmp.dir, "long.mp4"), { seconds: 2 });
  shortClip = makeCodedVideo(join(tmp.dir, "short.mp4"), { seconds: 1 });
  media = await startMediaServer();
  media.serve("/a.mp4", longClip);
  media.serve("/b.mp4", shortClip);
});
afterAll(async () => {
  await media.stop();
  tmp.cleanup();
});

let projects = 0;
const project = (html: string) => compositionProject(join(tmp.dir, `p${projects++}`), html);
const extract = extractProject;

function since(mark: number) {
  return media.log.slice(mark);
}

describe("remote sources", () => {
  it("downloads each URL once however many videos use it, and extracts exact frames; a warm run asks nothing within freshFor, one conditional request per URL after", async () => {
    const root = project(
      [
        `<video id="one" src="${media.url}/a.mp4" data-start="0" data-duration="1"></video>`,
        `<video id="two" src="${media.url}/a.mp4" data-start="1" data-media-start="1" data-duration="0.5"></video>`,
        `<video id="three" src="${media.url}/b.mp4?X-Amz-Signature=s3cr3t" data-start="0" data-duration="0.5"></video>`,
      ].join("\n"),
    );
    let mark = media.log.length;
    const cold = await extract(root);
    expect(cold.errors).toEqual([]);
    expect(since(mark).filter((r) => r.method === "GET").map((r) => r.path).sort()).toEqual(["/a.mp4", "/b.mp4"]);
    expect(cold.report).toMatchObject({ sourceDownloads: 2, sourceBytesDown: readFileSync(longClip).length + readFileSync(shortClip).length });
    expect(readFrameNumbers(cold.ids.one!.dir)).toEqual(range(0, 30));
    expect(readFrameNumbers(cold.ids.two!.dir)).toEqual(range(30, 15));
    expect(readFrameNumbers(cold.ids.three!.dir)).toEqual(range(0, 15));
    expect(cold.warnings.join("\n")).not.toContain("s3cr3t");

    mark = media.log.length;
    const warm = await extract(root);
    expect(since(mark)).toEqual([]);
    expect(warm).toMatchObject({ extracted: 0, errors: [] });
    expect(warm.report.cacheHits).toBe(3);

    mark = media.log.length;
    const asked = await extract(root, { remoteSources: { freshFor: 0 } });
    const requests = since(mark);
    expect(requests.map((r) => [r.method, r.path, r.status]).sort()).toEqual([["GET", "/a.mp4", 304], ["GET", "/b.mp4", 304]]);
    expect(requests.every((r) => r.headers["if-none-match"] !== undefined)).toBe(true);
    expect(asked).toMatchObject({ extracted: 0, errors: [] });
    expect((await verifyStore(join(root, "cache"))).problems).toEqual([]);
  });

  it("downloads again and re-extracts when the file on the server changes (a new ETag)", async () => {
    const served = join(tmp.dir, "changing.mp4");
    copyFileSync(shortClip, served);
    media.serve("/changing.mp4", served);
    const root = project(`<video id="v" src="${media.url}/changing.mp4" data-duration="0.5"></video>`);
    expect((await extract(root)).extracted).toBe(1);
    copyFileSync(longClip, served);
    const mark = media.log.length;
    const changed = await extract(root, { remoteSources: { freshFor: 0 } });
    expect(since(mark).filter((r) => r.bytes > 0)).toHaveLength(1);
    expect(changed).toMatchObject({ extracted: 1, errors: [] });
    expect(changed.report.sourceDownloads).toBe(1);
    expect(readFrameNumbers(changed.ids.v!.dir)).toEqual(range(0, 15));
    // New bytes under a new name (a task naming the old ones never reads these), the old ones gone.
    const digest = createHash("sha256").update(readFileSync(longClip)).digest("hex");
    expect(readdirSync(join(root, "cache/downloads")).filter((n) => n.endsWith(".mp4"))).toEqual([expect.stringMatching(new RegExp(`^[0-9a-f]{32}-${digest.slice(0, 16)}\\.mp4$`))]);
  });

  it("two processes at once download the URL once", async () => {
    const served = join(tmp.dir, "shared-by-two.mp4");
    copyFileSync(longClip, served);
    media.serve("/two-procs.mp4", served);
    const root = project(`<video id="v" src="${media.url}/two-procs.mp4" data-duration="1"></video>`);
    // Slow enough that both processes want it while the first is still downloading.
    media.fault("/two-procs.mp4", { kind: "slow", ms: 1500 });
    const run = () => execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache"], { cwd: root, reject: false });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(media.downloads("/two-procs.mp4")).toHaveLength(1);
    expect(media.log.filter((r) => r.path === "/two-procs.mp4")).toHaveLength(1);
  });

  it("retries a reset connection and a 503 once, and resumes a cut body with Range", async () => {
    for (const [path, fault] of [
      ["/reset.mp4", { kind: "reset-once" }],
      ["/busy.mp4", { kind: "error-once", status: 503 }],
      ["/cut.mp4", { kind: "truncate", bytes: 1000 }],
      ["/cut-no-ranges.mp4", { kind: "truncate", bytes: 1000, ranges: false }],
    ] as const) {
      media.serve(path, longClip);
      media.fault(path, fault);
      const root = project(`<video id="v" src="${media.url}${path}" data-duration="1"></video>`);
      const run = await extract(root);
      expect(run.errors).toEqual([]);
      expect(readFrameNumbers(run.ids.v!.dir)).toEqual(range(0, 30));
    }
    const resumed = media.log.filter((r) => r.path === "/cut.mp4" && r.headers.range);
    expect(resumed.map((r) => [r.headers.range, r.status])).toEqual([["bytes=1000-", 206]]);
    expect(media.bytesSent("/cut.mp4")).toBe(readFileSync(longClip).length);
    // Without ranges it starts over.
    expect(media.log.filter((r) => r.path === "/cut-no-ranges.mp4").map((r) => [r.headers.range, r.bytes])).toEqual([[undefined, 1000], [undefined, readFileSync(longClip).length]]);
  });

  it("uses the copy it has, with one warning, when the server cannot be reached; fails at the video without one", async () => {
    const offline = await startMediaServer();
    offline.serve("/a.mp4", longClip);
    const root = project(`<video id="v" src="${offline.url}/a.mp4?token=hush" data-duration="1"></video>\n<video id="w" src="${offline.url}/a.mp4?token=hush" data-duration="0.5"></video>`);
    expect((await extract(root)).errors).toEqual([]);
    await offline.stop();
    const kept = await extract(root, { remoteSources: { freshFor: 0 } });
    expect(kept.errors).toEqual([]);
    expect(kept.warnings.filter((w) => w.includes("could not be revalidated"))).toHaveLength(1);
    expect(kept.warnings.join("\n")).not.toContain("hush");
    const fresh = project(`<video id="v" src="${offline.url}/a.mp4?token=hush" data-duration="1"></video>`);
    const failed = await extract(fresh);
    expect(failed.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_FAILED"]);
    expect(failed.errors[0]!.message).toMatch(/^index\.html:3:1: video "v" \(http:\/\/127\.0\.0\.1:\d+\/a\.mp4\?REDACTED\)/);
    expect(failed.errors[0]!.message).not.toContain("hush");
  });

  it("a dev poll asks about a copy checked within freshFor: it is the poll's own window", async () => {
    const root = project(`<video id="v" src="${media.url}/b.mp4" data-duration="0.5"></video>`);
    expect((await extract(root)).errors).toEqual([]);
    const engine = new Engine({ root, allow: [], options: resolveOptions({ cacheDir: join(root, "cache") }, {}), logger: { info() {}, warn() {} } });
    try {
      let mark = media.log.length;
      expect(await engine.remoteDigest(`${media.url}/b.mp4`)).toMatch(/^[0-9a-f]{64}$/);
      expect(since(mark)).toEqual([]);
      engine.refreshRemoteSources();
      mark = media.log.length;
      await engine.remoteDigest(`${media.url}/b.mp4`, 0);
      expect(since(mark).map((r) => [r.method, r.status])).toEqual([["GET", 304]]);
    } finally {
      await engine.dispose();
    }
  });

  it("uses the copy when a revalidation is refused (an expired signed URL), with a warning; fails when the URL is gone", async () => {
    const server = await startMediaServer();
    server.serve("/a.mp4", longClip);
    const root = project(`<video id="v" src="${server.url}/a.mp4?X-Amz-Signature=hush" data-duration="1"></video>`);
    const first = await extract(root);
    expect(first.errors).toEqual([]);
    server.fault("/a.mp4", { kind: "status", status: 403 });
    const refused = await extract(root, { remoteSources: { freshFor: 0 } });
    expect(refused.errors).toEqual([]);
    expect(refused.warnings.filter((w) => /could not be revalidated .*403.*signed URL may have expired/.test(w))).toHaveLength(1);
    expect(readFrameNumbers(refused.ids.v!.dir)).toEqual(range(0, 30));
    expect(refused.warnings.join("\n")).not.toContain("hush");
    server.fault("/a.mp4", { kind: "status", status: 404 });
    const gone = await extract(root, { remoteSources: { freshFor: 0 } });
    expect(gone.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_NOT_FOUND"]);
    await server.stop();
  });
});

describe("remote source errors", () => {
  const cases: [string, string, (path: string) => void, FramecacheOptions?][] = [
    ["404", "FC_DOWNLOAD_NOT_FOUND", (p) => media.fault(p, { kind: "status", status: 404 })],
    ["410", "FC_DOWNLOAD_NOT_FOUND", (p) => media.fault(p, { kind: "status", status: 410 })],
    ["401", "FC_DOWNLOAD_DENIED", (p) => media.fault(p, { kind: "status", status: 401 })],
    ["403", "FC_DOWNLOAD_DENIED", (p) => media.fault(p, { kind: "status", status: 403 })],
    ["a body shorter than its Content-Length", "FC_DOWNLOAD_TRUNCATED", (p) => media.fault(p, { kind: "truncate", bytes: 500, always: true })],
    ["a body over the cap", "FC_DOWNLOAD_TOO_LARGE", () => undefined, { remoteSources: { maxBytes: 1000 } }],
    ["a redirect loop", "FC_DOWNLOAD_REDIRECT", (p) => media.fault(p, { kind: "redirect", to: p })],
    ["a redirect to ftp:", "FC_DOWNLOAD_REDIRECT", (p) => media.fault(p, { kind: "redirect", to: "ftp://127.0.0.1/x.mp4" })],
    ["a host not in allow", "FC_REMOTE_NOT_ALLOWED", () => undefined, { remoteSources: { allow: ["*.example.com"] } }],
    ["a server that stops sending", "FC_DOWNLOAD_TIMEOUT", (p) => media.fault(p, { kind: "stall", bytes: 500 }), { remoteSources: { timeout: 400 } }],
  ];
  it.each(cases)("%s: %s at the video, the URL's secrets redacted, the store clean", async (label, code, misbehave, options) => {
    const path = `/err-${label.replace(/\W+/g, "-")}.mp4`;
    media.serve(path, longClip);
    misbehave(path);
    const root = project(`<video id="v" src="${media.url}${path}?sig=hush" data-duration="1"></video>`);
    const run = await extract(root, options);
    expect(run.errors.map((e) => e.code)).toEqual([code]);
    const [error] = run.errors;
    expect(error!.message).toMatch(/^index\.html:3:1: video "v" \(http:\/\/127\.0\.0\.1:\d+\/err-[\w-]+\.mp4\?REDACTED\): /);
    expect(error!.hint).toBeTruthy();
    expect(`${error!.message}\n${run.warnings.join("\n")}`).not.toContain("hush");
    await expectCleanStore(join(root, "cache"));
  });

  it("a TLS certificate that does not verify: FC_DOWNLOAD_TLS", async () => {
    const secure = await startMediaServer({ tls: selfSignedCert(tmp.dir) });
    secure.serve("/a.mp4", longClip);
    try {
      const root = project(`<video id="v" src="${secure.url}/a.mp4" data-duration="1"></video>`);
      const run = await extract(root);
      expect(run.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_TLS"]);
      await expectCleanStore(join(root, "cache"));
    } finally {
      await secure.stop();
    }
  });

  it("a response that is not a video: ffprobe's refusal, at the video", async () => {
    const text = join(tmp.dir, "page.mp4");
    writeFileSync(text, "<html>an error page served as 200</html>".repeat(20));
    media.serve("/page.mp4", text);
    const root = project(`<video id="v" src="${media.url}/page.mp4" data-duration="1"></video>`);
    const run = await extract(root);
    expect(run.errors.map((e) => e.code)).toEqual(["FC_NOT_A_VIDEO"]);
    expect(run.errors[0]!.message).toMatch(/^index\.html:3:1: /);
    await expectCleanStore(join(root, "cache"));
  });
});

describe("remote sources and the shared cache", () => {
  let remote: RemoteServer;
  beforeAll(async () => {
    remote = await startRemoteServer(tmp.dir);
  });
  afterAll(() => remote.stop());

  it("machine B resolves the source from a HEAD and the shared record: 0 source bytes, 0 ffmpeg runs, the same frames", async () => {
    const served = join(tmp.dir, "hosted.mp4");
    copyFileSync(longClip, served);
    utimesSync(served, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    media.serve("/hosted.mp4", served);
    const html = `<video id="v" src="${media.url}/hosted.mp4" data-duration="1"></video>\n<video id="w" src="${media.url}/hosted.mp4" data-start="1" data-media-start="1.5" data-duration="0.5"></video>`;
    const shared = { remote: { url: remote.url, token: remote.token, team: "frames" } };
    const machineA = await extract(project(html), shared);
    expect(machineA.errors).toEqual([]);
    const mark = media.log.length;
    const machineB = await extract(project(html), shared);
    expect(machineB).toMatchObject({ extracted: 0, errors: [] });
    expect(machineB.report.remoteHits).toBe(2);
    expect(since(mark).map((r) => [r.method, r.bytes])).toEqual([["HEAD", 0]]);
    for (const id of ["v", "w"]) expect(frameBytes(machineB.ids[id]!.dir)).toEqual(frameBytes(machineA.ids[id]!.dir));
    expect(readFrameNumbers(machineB.ids.w!.dir)).toEqual(range(45, 15));
  });

  it("with signing, the shared record is signed too: a reader with the key trusts it, one with another key downloads the source", async () => {
    const tagged = await startRemoteServer(join(tmp.dir, "tagged"), { env: { TURBO_REMOTE_CACHE_SIGNATURE_KEY: "keep-tags" } });
    try {
      media.serve("/signed.mp4", shortClip);
      const html = `<video id="v" src="${media.url}/signed.mp4" data-duration="0.5"></video>`;
      const signed = (key: string) => ({ remote: { url: tagged.url, token: tagged.token, team: "frames", signature: { key } } });
      const machineA = await extract(project(html), signed("record-key"));
      expect(machineA).toMatchObject({ errors: [], warnings: [] });
      const stored = readdirSync(join(tagged.storage, "frames"));
      // Two artifacts (the entry and the record), each with its tag.
      expect(stored.filter((n) => n.endsWith(".tag"))).toHaveLength(2);
      let mark = media.log.length;
      const machineB = await extract(project(html), signed("record-key"));
      expect(machineB).toMatchObject({ extracted: 0, errors: [], warnings: [] });
      expect(since(mark).map((r) => [r.method, r.bytes])).toEqual([["HEAD", 0]]);
      mark = media.log.length;
      const machineC = await extract(project(html), signed("other-key"));
      expect(machineC.errors).toEqual([]);
      expect(machineC.warnings).toHaveLength(1);
      expect(machineC.warnings[0]).toContain("without a valid signature (first: record ");
      expect(since(mark).filter((r) => r.method === "GET" && r.bytes > 0)).toHaveLength(1);
      expect(frameBytes(machineC.ids.v!.dir)).toEqual(frameBytes(machineA.ids.v!.dir));
    } finally {
      await tagged.stop();
    }
  });

  it("a weak ETag identifies nothing: machine B downloads", async () => {
    media.serve("/weak.mp4", shortClip);
    media.fault("/weak.mp4", { kind: "weak-etag" });
    const html = `<video id="v" src="${media.url}/weak.mp4" data-duration="0.5"></video>`;
    const shared = { remote: { url: remote.url, token: remote.token, team: "frames" } };
    await extract(project(html), shared);
    const mark = media.log.length;
    const machineB = await extract(project(html), shared);
    expect(machineB).toMatchObject({ extracted: 0, errors: [] });
    expect(since(mark).filter((r) => r.method === "GET" && r.bytes > 0)).toHaveLength(1);
  });
});
