import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/media.js";
import { referenceProject, viteBuild, writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe("?frames imports in vite build", () => {
  it("resolve to the manifest entry, not to Vite's asset URL for the video", async () => {
    referenceProject(dir);
    writeFiles(dir, {
      "main.js": `import clip from "./media/clip.mp4?frames&start=1&duration=0.5";\ndocument.title = JSON.stringify(clip);\n`,
      "index.html": readFileSync(join(dir, "index.html"), "utf8").replace("</body>", `<script type="module" src="./main.js"></script>\n</body>`),
    });
    const bundle = async () => {
      await viteBuild(dir, { cacheDir: join(dir, "cache") });
      const assets = join(dir, "dist/assets");
      return readdirSync(assets).filter((f) => f.endsWith(".js")).map((f) => `${f}\n${readFileSync(join(assets, f), "utf8")}`).join("\n");
    };
    const js = await bundle();
    const assets = join(dir, "dist/assets");
    const entry = /frames:.\/assets\/frames\/(hfcache-v2-[0-9a-f]{16})\/frame_%05d\.jpg/.exec(js)?.[1];
    expect(entry, "the import's frames pattern in the bundle").toBeDefined();
    expect(js).toMatch(/frameCount:15\b/);
    expect(readdirSync(join(assets, "frames", entry!)).filter((f) => f.endsWith(".jpg"))).toHaveLength(15);
    // Nothing of this machine or of the cache's state: a warm build ships the same bundle, under the same names.
    expect(js).not.toContain(dir);
    expect(await bundle()).toBe(js);
  });
});
