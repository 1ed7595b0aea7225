import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeyframeListing } from "../src/core/keyframe-listing.js";
import { silentLogger } from "../src/core/logger.js";
import { resolveOptions } from "../src/core/options.js";
import { probeKeyframes } from "../src/media/probe.js";
import { Engine } from "../src/pipeline/engine.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const realFfprobe = () => execFileSync("sh", ["-c", "command -v ffprobe"]).toString().trim();
/** A keyframe a second, two B-frames between references, no scene-cut keyframes. */
const GOP_30 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "30", "-bf", "2", "-sc_threshold", "0", "-pix_fmt", "yuv420p"];

/** ffprobe's decoding listing of `file`, as the engine asks for it, in the compact format. */
function compactListing(file: string): string {
  const args = ["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-skip_idct", "all", "-skip_loop_filter", "all"];
  const entries = ["-show_entries", "packet=pts_time,dts_time,flags:frame=pts_time,key_frame", "-of", "compact", `file:${file}`];
  return execFileSync(realFfprobe(), [...args, ...entries]).toString();
}

/** The listing read in uneven pieces, as a pipe gives it; each step's `through` and table. */
function readInPieces(text: string): { through: number; pts: number[] }[] {
  const listing = new KeyframeListing(true);
  const steps: { through: number; pts: number[] }[] = [];
  for (let at = 0, size = 1; at < text.length; at += size, size = (size * 7 + 13) % 301) {
    listing.push(text.slice(at, at + size));
    steps.push({ through: listing.through, pts: listing.keyframes().map((k) => k.pts) });
  }
  listing.end();
  steps.push({ through: listing.through, pts: listing.keyframes().map((k) => k.pts) });
  return steps;
}

describe("KeyframeListing", () => {
  it("read as it comes, holds every keyframe before `through` and nothing that is not one", () => {
    const gop = makeCodedVideo(join(dir, "gop.mp4"), { seconds: 8, codec: GOP_30 });
    // Flagged every second, but only the first frame decodes on its own: the rest are recovery points.
    const refresh = join(dir, "refresh.mp4");
    execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=4", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "0", "-intra-refresh", "1", "-pix_fmt", "yuv420p", refresh]);
    for (const [file, all] of [
      [gop, range(0, 8).map((s) => s * 1e6)],
      [refresh, [0]],
    ] as const) {
      const steps = readInPieces(compactListing(file));
      for (const { through, pts } of steps) expect(pts).toEqual(all.filter((p) => p < through));
      const throughs = steps.map((s) => s.through);
      expect(throughs).toEqual([...throughs].sort((a, b) => a - b));
      expect(steps.at(-1)!.through).toBe(Infinity);
      if (file === gop) {
        // The table grows while the listing reads: past the middle of the source well before its end.
        expect(steps.findIndex((s) => s.through > 4e6)).toBeLessThan(steps.length * 0.8);
      } else {
        // A flagged packet that never decodes shows no frame to pass it by: it holds the table back to the end.
        expect(steps.slice(0, -1).every((s) => s.through <= 1e6)).toBe(true);
      }
    }
  });

  it("tells probeKeyframes' listeners the table as it grows, and the whole of it last", async () => {
    const gop = makeCodedVideo(join(dir, "gop.mp4"), { seconds: 6, codec: GOP_30 });
    const ffprobe = { name: "ffprobe" as const, path: realFfprobe(), chosenBy: "PATH" as const };
    const told: number[] = [];
    const table = await probeKeyframes(ffprobe, gop, { decodeKeyframes: true, onProgress: (l) => told.push(l.through) });
    expect(table.map((k) => k.pts)).toEqual(range(0, 6).map((s) => s * 1e6));
    expect(told.at(-1)).toBe(Infinity);
    expect(told.some((t) => t > 0 && t < 6e6)).toBe(true);
  });
});

describe("a seek early in a source whose keyframes are still being listed", () => {
  it("extracts once the listing has passed it, with the frames the whole table gives", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 10, codec: GOP_30 });
    writeFiles(dir, { "a.html": `<video src="clip.mp4" data-media-start="1" data-duration="0.5"></video>` });
    // A listing that stalls after its first 5 s of packets (the one thing this is about): any
    // extraction that waited for the whole table would wait out the stall.
    const log = join(dir, "order.log");
    const ffprobePath = join(dir, "ffprobe");
    writeFileSync(
      ffprobePath,
      `#!/bin/sh
case "$*" in *packet=*) ;; *) exec "${realFfprobe()}" "$@";; esac
"${realFfprobe()}" "$@" | awk 'NR == 160 { system("echo stalled >> ${log}; sleep 6") } { print; fflush() }'
echo listed >> "${log}"
`,
    );
    chmodSync(ffprobePath, 0o755);
    const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
    const ffmpegPath = join(dir, "ffmpeg");
    writeFileSync(ffmpegPath, `#!/bin/sh\n[ "$1" = "-version" ] || printf 'ffmpeg %s\\n' "$*" >> "${log}"\nexec "${real}" "$@"\n`);
    chmodSync(ffmpegPath, 0o755);
    const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache"), ffprobePath, ffmpegPath }), logger: silentLogger });
    try {
      const { results, errors } = await engine.run([join(dir, "a.html")]);
      expect(errors).toEqual([]);
      // Done while the listing stalls, whether ffmpeg started before the stall or after it.
      const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
      expect(lines).not.toContain("listed");
      const runs = lines.filter((l) => l.startsWith("ffmpeg "));
      expect(runs).toHaveLength(1);
      // Seeking to the keyframe at 1 s, found in the table so far (without one it would decode from 0).
      expect(runs[0]).toMatch(/ -ss 1 /);
      expect(readFrameNumbers(results[0]!.entry.dir)).toEqual(range(30, 15));
    } finally {
      await engine.dispose();
    }
  });
});
