import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { compositionProject, extractProject } from "./helpers/extract.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { startMediaServer, type MediaServer } from "./helpers/media-server.js";

const tmp = tempDir("framecache-remote-options-");
let media: MediaServer;
let other: MediaServer;
let clip: string;
let projects = 0;
const project = (html: string) => compositionProject(join(tmp.dir, `p${projects++}`), html);

beforeAll(async () => {
  clip = makeCodedVideo(join(tmp.dir, "clip.mp4"), { seconds: 1 });
  media = await startMediaServer();
  other = await startMediaServer();
});
afterAll(async () => {
  await media.stop();
  await other.stop();
  tmp.cleanup();
});

describe("remoteSources options", () => {
  it("sends the configured headers to a private bucket, from the option or FRAMECACHE_REMOTE_HEADERS, and never shows their values", async () => {
    media.serve("/private.mp4", clip);
    media.fault("/private.mp4", { kind: "auth", header: "Authorization", value: "Bearer bucket-secret" });
    const html = `<video id="v" src="${media.url}/private.mp4" data-duration="1"></video>`;
    const denied = await extractProject(project(html));
    expect(denied.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_DENIED"]);
    expect(denied.errors[0]!.hint).toContain("remoteSources.headers");

    const viaOption = await extractProject(project(html), { remoteSources: { headers: { Authorization: "Bearer bucket-secret" } } });
    expect(viaOption.errors).toEqual([]);
    expect(readFrameNumbers(viaOption.ids.v!.dir)).toEqual(range(0, 30));

    const fromEnv = resolveOptions({}, { FRAMECACHE_REMOTE_HEADERS: "Authorization: Bearer bucket-secret\nX-Trace: 1" }).remoteSources!;
    expect(fromEnv.headers).toEqual({ Authorization: "Bearer bucket-secret", "X-Trace": "1" });
    expect(resolveOptions({}, { FRAMECACHE_REMOTE_HEADERS: '{"Authorization":"Bearer bucket-secret"}' }).remoteSources!.headers).toEqual({ Authorization: "Bearer bucket-secret" });
    const bad = () => resolveOptions({}, { FRAMECACHE_REMOTE_HEADERS: "bucket-secret" });
    expect(bad).toThrow(expect.objectContaining({ code: "FC_BAD_OPTION" }));
    const message = (() => {
      try {
        bad();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain("FRAMECACHE_REMOTE_HEADERS");
    expect(message).not.toContain("bucket-secret");
    expect(JSON.stringify(viaOption)).not.toContain("bucket-secret");
  });

  it("keeps configured headers at the URL's origin: a redirect to another host gets none", async () => {
    other.serve("/moved.mp4", clip);
    media.fault("/moving.mp4", { kind: "redirect", to: `${other.url}/moved.mp4` });
    const run = await extractProject(project(`<video id="v" src="${media.url}/moving.mp4" data-duration="1"></video>`), {
      remoteSources: { headers: { Authorization: "Bearer bucket-secret" } },
    });
    expect(run.errors).toEqual([]);
    expect(media.log.find((r) => r.path === "/moving.mp4")!.headers.authorization).toBe("Bearer bucket-secret");
    expect(other.log.find((r) => r.path === "/moved.mp4")!.headers.authorization).toBeUndefined();
  });

  it("a URL's user info becomes Basic auth, and neither it nor a bare token in the query is ever shown", async () => {
    media.serve("/basic.mp4", clip);
    media.fault("/basic.mp4", { kind: "auth", header: "Authorization", value: `Basic ${Buffer.from("user:pa55").toString("base64")}` });
    const host = media.url.replace("http://", "");
    const run = await extractProject(project(`<video id="v" src="http://user:pa55@${host}/basic.mp4?eyJhbGciOiJIUzI1NiJ9tokentoken" data-duration="1"></video>`));
    expect(run.errors).toEqual([]);
    expect(readFrameNumbers(run.ids.v!.dir)).toEqual(range(0, 30));
    const offline = await extractProject(project(`<video id="v" src="http://user:pa55@127.0.0.1:9/basic.mp4?eyJhbGciOiJIUzI1NiJ9tokentoken" data-duration="1"></video>`));
    expect(offline.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_FAILED"]);
    expect(offline.errors[0]!.message).toContain("http://REDACTED@127.0.0.1:9/basic.mp4?REDACTED");
    expect(JSON.stringify([run.warnings, offline.errors.map((e) => e.message), offline.warnings])).not.toMatch(/pa55|eyJhbGci/);
  });

  it("holds every redirect to allow, and a malformed Location is an error, not a crash", async () => {
    media.fault("/away.mp4", { kind: "redirect", to: `http://localhost:${new URL(other.url).port}/moved.mp4` });
    const away = await extractProject(project(`<video id="v" src="${media.url}/away.mp4" data-duration="1"></video>`), { remoteSources: { allow: ["127.0.0.1"] } });
    expect(away.errors.map((e) => e.code)).toEqual(["FC_REMOTE_NOT_ALLOWED"]);
    expect(away.errors[0]!.message).toContain("redirected to localhost");
    media.fault("/bad-location.mp4", { kind: "redirect", to: "http://[::1" });
    const bad = await extractProject(project(`<video id="v" src="${media.url}/bad-location.mp4" data-duration="1"></video>`));
    expect(bad.errors.map((e) => e.code)).toEqual(["FC_DOWNLOAD_REDIRECT"]);
  });

  it("refuses bad values with FC_BAD_OPTION naming the option", () => {
    const bad: [string, unknown][] = [
      ["remoteSources", "yes"],
      ["remoteSources.allow", ["ok.example.com", ""]],
      ["remoteSources.maxBytes", "lots"],
      ["remoteSources.freshFor", -1],
      ["remoteSources.timeout", 0],
      ["remoteSources.headers", { Authorization: 42 }],
    ];
    for (const [option, value] of bad) {
      const [, key] = option.split(".");
      const remoteSources = key ? { [key]: value } : value;
      expect(() => resolveOptions({ remoteSources } as never, {}), option).toThrow(expect.objectContaining({ code: "FC_BAD_OPTION", message: expect.stringContaining(`\`${option}\``) }));
    }
    expect(resolveOptions({}, {}).remoteSources).toMatchObject({ maxBytes: 2e9, freshForMs: 300_000, timeoutMs: 30_000, headers: {} });
    expect(resolveOptions({ remoteSources: false }, {}).remoteSources).toBeUndefined();
  });
});
