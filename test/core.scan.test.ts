import { describe, expect, it } from "vitest";
import { setVideoAttributes } from "../src/core/html.js";
import { scanComposition } from "../src/core/scan.js";
import { sourceCandidates } from "../src/core/paths.js";

const scan = (body: string) => scanComposition(`<!doctype html><html><body>${body}</body></html>`, "comp.html");

describe("scanComposition", () => {
  it("finds video src, a first <source> child, and videos inside <template>", () => {
    const s = scan(`
      <video src="a.mp4"></video>
      <video><source src="b.webm"><source src="c.mp4"></video>
      <template><video src="d.mp4"></video></template>
      <video></video>`);
    expect(s.videos.map((v) => v.src)).toEqual(["a.mp4", "b.webm", "d.mp4"]);
    expect(s.videos.map((v) => v.index)).toEqual([0, 1, 2]);
  });

  it("reports the location of each video", () => {
    const s = scanComposition(`<div>\n  <video src="a.mp4"></video>\n</div>`, "x/comp.html");
    expect(s.videos[0]!.loc).toEqual({ file: "x/comp.html", line: 2, column: 3 });
  });

  it("resolves timing: data-end over data-duration, playback-start over media-start, clamps", () => {
    const [a, b, c, d] = scan(`
      <video src="a.mp4" data-start="1" data-duration="2" data-end="2.5"></video>
      <video src="a.mp4" data-start="-3" data-duration="1.5" data-media-start="4" data-playback-start="2"></video>
      <video src="a.mp4" data-playback-rate="9"></video>
      <video src="a.mp4" data-start="2" data-playback-rate="0.01" data-media-start="0.5"></video>`).videos;
    expect([a!.start, a!.end, a!.inactive]).toEqual([1_000_000, 2_500_000, false]);
    expect([b!.start, b!.end, b!.mediaStart]).toEqual([0, 1_500_000, 2_000_000]);
    expect([c!.end, c!.playbackRate]).toEqual([undefined, 5]);
    expect([d!.start, d!.mediaStart, d!.playbackRate]).toEqual([2_000_000, 500_000, 0.1]);
  });

  it("marks zero and negative windows inactive", () => {
    const v = scan(`
      <video src="a.mp4" data-duration="0"></video>
      <video src="a.mp4" data-start="2" data-end="1"></video>
      <video src="a.mp4" data-duration="-1"></video>`).videos;
    expect(v.map((x) => x.inactive)).toEqual([true, true, true]);
  });

  it("warns about attributes that are not numbers and ignores them", () => {
    const s = scan(`<video src="a.mp4" data-start="1s" data-duration=""></video>`);
    expect(s.videos[0]!.start).toBe(0);
    expect(s.warnings.map((w) => w.code)).toEqual(["FC_BAD_ATTRIBUTE"]);
    expect(s.warnings[0]!.message).toContain('data-start="1s"');
  });

  it("takes ids from data-hf-render-id, then id, then document order", () => {
    const s = scan(`<video src="a" data-hf-render-id="r" id="i"></video><video src="b" id="i2"></video><video src="c"></video>`);
    expect(s.videos.map((v) => v.id)).toEqual(["r", "i2", "hf-video-2"]);
  });

  it("skips inline sources with one warning each", () => {
    const s = scan(`<video src="data:video/mp4;base64,AA"></video><video src="blob:x"></video>`);
    expect(s.videos).toEqual([]);
    expect(s.skipped).toHaveLength(2);
    expect(s.warnings.filter((w) => w.code === "FC_REMOTE_SOURCE")).toHaveLength(2);
  });

  it("keeps an http(s) source's URL apart from the src it shows, whose secrets are redacted", () => {
    const s = scan(`<video src="https://u:pw@x.test/a.mp4?X-Amz-Signature=s3cr3t&v=2#t=1"></video><video src="//cdn.test/b.mp4"></video>`);
    expect(s.skipped).toEqual([]);
    expect(s.videos.map((v) => v.url)).toEqual(["https://u:pw@x.test/a.mp4?X-Amz-Signature=s3cr3t&v=2#t=1", "//cdn.test/b.mp4"]);
    expect(s.videos[0]!.src).toBe("https://REDACTED@x.test/a.mp4?REDACTED");
    expect(JSON.stringify({ ...s, videos: s.videos.map(({ url: _, ...v }) => v) })).not.toContain("s3cr3t");
  });

  it("reads the root data-fps, integer or ratio", () => {
    expect(scan(`<div data-fps="30000/1001"><video src="a"></video></div>`).fps).toEqual({ num: 30000, den: 1001 });
    expect(scan(`<div data-fps="29.97"></div>`).fps).toBeUndefined();
    expect(scan(`<div></div>`).fps).toBeUndefined();
  });

  it("lists nested compositions and notices scripts that create videos", () => {
    const s = scan(`<div data-composition-src="scenes/a.html"></div><script>document.createElement("video")</script>`);
    expect(s.nested.map((n) => n.src)).toEqual(["scenes/a.html"]);
    expect(s.scriptsCreateVideo).toBe(true);
  });
});

describe("setVideoAttributes", () => {
  it("adds attributes to the n-th video and changes nothing else", () => {
    const html = `<p>x</p>\n<video src="a.mp4" muted></video>\n<template><video src='b.mp4'/></template>`;
    const out = setVideoAttributes(html, new Map([[1, { "data-frames": "f/%05d.jpg", "data-frame-count": "3" }]]));
    expect(out).toBe(`<p>x</p>\n<video src="a.mp4" muted></video>\n<template><video src='b.mp4' data-frames="f/%05d.jpg" data-frame-count="3"/></template>`);
  });

  it("leaves an unquoted value that ends in / whole, and still keeps a self-closing / last", () => {
    const edit = new Map([[0, { "data-frames": "f" }]]);
    expect(setVideoAttributes(`<video src=clips/>`, edit)).toBe(`<video src=clips/ data-frames="f">`);
    expect(setVideoAttributes(`<video src=a.mp4 />`, edit)).toBe(`<video src=a.mp4  data-frames="f"/>`);
  });

  it("replaces an existing value in place", () => {
    const out = setVideoAttributes(`<video data-frame-count="9" src="a"></video>`, new Map([[0, { "data-frame-count": "3" }]]));
    expect(out).toBe(`<video data-frame-count="3" src="a"></video>`);
  });
});

describe("sourceCandidates", () => {
  it("resolves relative to the composition and clamps at the root like a URL", () => {
    expect(sourceCandidates("../media/a.mp4?x=1#t", "/p/scenes", "/p")).toEqual(["/p/media/a.mp4"]);
    expect(sourceCandidates("../../../etc/passwd", "/p/scenes", "/p")).toEqual(["/p/etc/passwd"]);
    expect(sourceCandidates("/media/a%20b.mp4", "/p/scenes", "/p", "/p/public")).toEqual(["/p/media/a b.mp4", "/p/public/media/a b.mp4"]);
  });
});
