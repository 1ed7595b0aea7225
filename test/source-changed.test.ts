import { mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { Engine } from "../src/pipeline/engine.js";
import { verifyStore } from "../src/store/verify.js";
import { until } from "./helpers/dev.js";
import { compositionProject, extractProject } from "./helpers/extract.js";
import { gatedFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";

const tmp = tempDir("framecache-source-changed-");
afterAll(() => tmp.cleanup());

it("a source replaced while ffmpeg is at work: its frames are not kept under the old bytes' key (FC_SOURCE_CHANGED), and the next run extracts the new bytes", async () => {
  const root = compositionProject(join(tmp.dir, "p"), `<video id="v" src="media/clip.mp4" data-duration="1"></video>`);
  mkdirSync(join(root, "media"));
  makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
  const gate = gatedFfmpeg(tmp.dir);
  const engine = new Engine({ root, allow: [], options: resolveOptions({ cacheDir: join(root, "cache"), ffmpegPath: gate.path }, {}), logger: { info() {}, warn() {} } });
  try {
    const running = engine.run([join(root, "index.html")]);
    await until(() => gate.held().length > 0, "ffmpeg to start");
    // Planned and hashed as the 30 fps clip; ffmpeg opens the file only now, and finds other bytes.
    makeCodedVideo(join(tmp.dir, "new.mp4"), { seconds: 1, fps: 15 });
    renameSync(join(tmp.dir, "new.mp4"), join(root, "media/clip.mp4"));
    gate.open();
    const { errors, results } = await running;
    expect(results).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(["FC_SOURCE_CHANGED"]);
    expect(errors[0]!.message).toMatch(/^index\.html:3:1: video "v" \(media\/clip\.mp4\): /);
  } finally {
    await engine.dispose();
  }
  expect(readdirSync(join(root, "cache")).filter((n) => n.startsWith("hfcache-v2-"))).toEqual([]);
  expect((await verifyStore(join(root, "cache"))).problems).toEqual([]);
  const again = await extractProject(root);
  expect(again.errors).toEqual([]);
  expect(readFrameNumbers(again.ids.v!.dir)).toEqual(range(0, 30).map((k) => Math.floor(k / 2)));
});
