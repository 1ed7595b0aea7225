import { describe, expect, it } from "vitest";
import { devFramesUrl, isUnderDevPrefix, parseDevFrameUrl } from "../src/core/dev-url.js";
import { videoAttributes, videoSkeleton } from "../src/core/html.js";

const entry = "hfcache-v2-0123456789abcdef";

describe("dev frame URLs", () => {
  it("name exactly one frame, in its canonical spelling", () => {
    expect(devFramesUrl(entry, "jpg")).toBe(`/@framecache/${entry}/frame_%05d.jpg`);
    expect(parseDevFrameUrl(`/@framecache/${entry}/frame_00007.jpg`)).toEqual({ entry, index: 7, format: "jpg" });
    expect(parseDevFrameUrl(`/@framecache/${entry}/frame_123456.png`)).toEqual({ entry, index: 123456, format: "png" });
    for (const path of [
      `/@framecache/${entry}/frame_000007.jpg`,
      `/@framecache/${entry}/frame_00000.jpg`,
      `/@framecache/${entry}/frame_7.jpg`,
      `/@framecache/${entry}/frame_00007.gif`,
      `/@framecache/${entry}/.hf-complete`,
      `/@framecache/${entry}.partial-1-ab/frame_00007.jpg`,
      `/@framecache/hfcache-v2-0123456789ABCDEF/frame_00007.jpg`,
      `/@framecache/hfcache-v1-0123456789abcdef/frame_00007.jpg`,
      `/@framecache/${entry}/%2e%2e/frame_00007.jpg`,
      `/@framecache/${entry}/../${entry}/frame_00007.jpg`,
      `/@framecache/x/../${entry}/frame_00007.jpg`,
      `/@framecache//${entry}/frame_00007.jpg`,
      `/@framecache/${entry}/frame_99999999999999999999.jpg`,
    ]) {
      expect(parseDevFrameUrl(path), path).toBeUndefined();
    }
  });

  it("claim every spelling of the prefix, so nothing under it falls through to other middleware", () => {
    for (const path of ["/@framecache", "/@framecache/", "/%40framecache/x", "/%2540framecache/x", "//@framecache/x", "/./@framecache/x", "/@FrameCache/x", "\\@framecache/x"]) {
      expect(isUnderDevPrefix(path), path).toBe(true);
    }
    for (const path of ["/", "/index.html", "/@vite/client", "/@id/__x00__virtual:framecache/hmr", "/framecache/x", "/%E0%A4%A"]) {
      expect(isUnderDevPrefix(path), path).toBe(false);
    }
  });
});

describe("video attributes of a composition", () => {
  const html = `<div data-fps="30"><video id="a" src="a.mp4" data-start="0"></video><template><video src="b.mp4"></video></template></div>`;
  it("are listed per <video>, template contents included", () => {
    expect(videoAttributes(html)).toEqual([{ id: "a", src: "a.mp4", "data-start": "0" }, { src: "b.mp4" }]);
  });
  it("are all a skeleton ignores: an attribute edit keeps it, any other edit changes it", () => {
    const skeleton = videoSkeleton(html);
    expect(videoSkeleton(html.replace(`data-start="0"`, `data-start="1" data-media-start="2"`))).toBe(skeleton);
    expect(videoSkeleton(html.replace(`src="b.mp4"`, `src="c.mp4" muted`))).toBe(skeleton);
    expect(videoSkeleton(html.replace(`data-fps="30"`, `data-fps="25"`))).not.toBe(skeleton);
    expect(videoSkeleton(html.replace("</div>", "<p>x</p></div>"))).not.toBe(skeleton);
    expect(videoSkeleton(html.replace("<template>", "<template><video src=c.mp4></video>"))).not.toBe(skeleton);
  });
});
