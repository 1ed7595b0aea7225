import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serialize } from "node:v8";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { scanComposition, type CompositionScan } from "../src/core/scan.js";
import { Engine } from "../src/pipeline/engine.js";
import { ScanMemo } from "../src/store/scan-memo.js";
import { makeCodedVideo, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir("framecache-scan-memo-")));
afterEach(() => cleanup());

// A start reference, a host, a warning: what a scan gives beyond plain values.
const COMPOSITION = `<!doctype html>
<div data-composition-id="main" data-fps="30" data-duration="6">
  <div id="intro" data-start="1" data-duration="3"></div>
  <video id="a" src="a.mp4" data-start="intro + 2" data-duration="1"></video>
  <div id="scene" data-composition-src="scene.html" data-start="a"></div>
  <video id="bad" src="b.mp4" data-duration="soon"></video>
</div>
`;

/** A memo over `dir` and how many scans it ran, as a restarted process would have it. */
function memo(): { get: (html: string, label?: string) => CompositionScan; computed: () => number } {
  const scans = new ScanMemo(join(dir, ".digests"));
  return { get: (html, label = "index.html") => scans.get(html, label), computed: () => scans.computed };
}

describe("composition scans remembered by their text", () => {
  it("gives a restarted process the scan without parsing, one timing object per element as the timeline needs", () => {
    const first = memo();
    const scanned = first.get(COMPOSITION);
    expect(first.computed()).toBe(1);

    const restarted = memo();
    const remembered = restarted.get(COMPOSITION);
    expect(restarted.computed()).toBe(0);
    expect(remembered).toEqual(scanComposition(COMPOSITION, "index.html"));
    expect(remembered).not.toBe(scanned);
    expect(remembered.warnings.map((w) => w.code)).toEqual(["FC_BAD_ATTRIBUTE"]);
    const named = (name: string) => remembered.named.find((n) => n.name === name)!;
    expect(named("a").timing).toBe(remembered.videos.find((v) => v.id === "a")!.timing);
    expect(named("scene").timing).toBe(remembered.nested[0]!.timing);
  });

  it("scans again for another text or another file, and over a record that cannot be read", () => {
    memo().get(COMPOSITION);
    const edited = memo();
    edited.get(COMPOSITION.replace('data-duration="1"', 'data-duration="2"'));
    edited.get(COMPOSITION, "scenes/other.html");
    expect(edited.computed()).toBe(2);

    const records = readdirSync(join(dir, ".digests"));
    expect(records).toHaveLength(3);
    for (const name of records) writeFileSync(join(dir, ".digests", name), "torn");
    const afterCrash = memo();
    expect(afterCrash.get(COMPOSITION)).toEqual(scanComposition(COMPOSITION, "index.html"));
    expect(afterCrash.computed()).toBe(1);
    expect(memo().get(COMPOSITION).videos).toHaveLength(2);
  });

  it("never writes the scan of a composition with a remote source, whose URL may hold a token", () => {
    const remote = COMPOSITION.replace('src="b.mp4"', 'src="https://media.example/b.mp4?token=SECRET-123"');
    const first = memo();
    expect(first.get(remote).videos.find((v) => v.id === "bad")!.url).toContain("SECRET-123");
    expect(existsSync(join(dir, ".digests"))).toBe(false);
    const again = memo();
    again.get(remote);
    expect(again.computed()).toBe(1);
  });

  it("is what the next engine run plans from: a record stands in for the file's text until the text changes", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
    const page = (duration: number) => `<!doctype html>\n<div data-composition-id="main" data-fps="30"><video id="v" src="clip.mp4" data-duration="${duration}"></video></div>\n`;
    writeFiles(dir, { "index.html": page(1) });
    const run = async () => {
      const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache") }), logger: { info() {}, warn() {} } });
      try {
        const { results, errors } = await engine.run([join(dir, "index.html")]);
        expect(errors).toEqual([]);
        return results[0]!.entry.frames;
      } finally {
        await engine.dispose();
      }
    };
    expect(await run()).toBe(30);
    const memoDir = join(dir, "cache/.digests");
    const [record, ...others] = readdirSync(memoDir).filter((n) => n.startsWith("scan-"));
    expect(others).toEqual([]);
    // Poisoned with the scan of other text: the next run plans what the record says, not what the file says.
    writeFileSync(join(memoDir, record!), serialize(scanComposition(page(0.5), "index.html")));
    expect(await run()).toBe(15);
    writeFiles(dir, { "index.html": page(1.5) });
    expect(await run()).toBe(45);
  });
});
