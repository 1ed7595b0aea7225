import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keyframesNeeded, seekPoint, type Keyframe } from "../src/core/ffmpeg-args.js";
import { KeyframeListing } from "../src/core/keyframe-listing.js";
import { silentLogger } from "../src/core/logger.js";
import { resolveOptions } from "../src/core/options.js";
import type { Task } from "../src/core/plan.js";
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
function readInPieces(text: string, decoded = true): { through: number; table: Keyframe[] }[] {
  const listing = new KeyframeListing(decoded);
  const steps: { through: number; table: Keyframe[] }[] = [];
  for (let at = 0, size = 1; at < text.length; at += size, size = (size * 7 + 13) % 301) {
    listing.push(text.slice(at, at + size));
    steps.push({ through: listing.through, table: listing.keyframes() });
  }
  listing.end();
  steps.push({ through: listing.through, table: listing.keyframes() });
  return steps;
}

/** Only what seekPoint reads of a 30 fps task whose seeks take the table. */
const SEEKING = { seekable: true, reorders: true, recoveryPoints: false, fps: { num: 30, den: 1 }, origin: 0, seek: 0 } as Task;

describe("KeyframeListing", () => {
  it("read as it comes, holds every keyframe that decodes before `through` and nothing that is not one", () => {
    const gop = makeCodedVideo(join(dir, "gop.mp4"), { seconds: 8, codec: GOP_30 });
    // Flagged every second, but only the first frame decodes on its own: the rest are recovery points.
    const refresh = join(dir, "refresh.mp4");
    execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=4", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "0", "-intra-refresh", "1", "-pix_fmt", "yuv420p", refresh]);
    for (const [file, all] of [
      [gop, range(0, 8).map((s) => s * 1e6)],
      [refresh, [0]],
    ] as const) {
      const steps = readInPieces(compactListing(file));
      for (const { through, table } of steps) {
        const pts = table.map((k) => k.pts);
        expect(pts.filter((p) => p < through)).toEqual(all.filter((p) => p < through));
        expect(all).toEqual(expect.arrayContaining(pts));
      }
      const throughs = steps.map((s) => s.through);
      expect(throughs).toEqual([...throughs].sort((a, b) => a - b));
      expect(steps.at(-1)!.through).toBe(Infinity);
      if (file === gop) {
        // The table grows while the listing reads: past the middle of the source well before its end.
        expect(steps.findIndex((s) => s.through > 4e6)).toBeLessThan(steps.length * 0.8);
      } else {
        // A flagged packet that never decodes has no frame to settle it: it holds the table back to the end.
        expect(steps.slice(0, -1).every((s) => s.through <= 1e6)).toBe(true);
      }
    }
  });

  it("gives every seek it says it is far enough for as the whole table does, with open GOPs and keyframes decoded out of order", () => {
    const sources = {
      // Leading pictures of each CRA show before it but decode after: a later keyframe decodes before one shown earlier.
      "x265 open GOP": ["-c:v", "libx265", "-x265-params", "keyint=4:min-keyint=4:bframes=4:log-level=error", "-pix_fmt", "yuv420p"],
      // With -skip_frame nokey, ffmpeg 5.1 gives the keyframe at 2 s before those at 0 and 1 s.
      "x264 open GOP": ["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "open-gop=1:keyint=30", "-pix_fmt", "yuv420p"],
      "x264 B-frames": GOP_30,
    };
    for (const [name, codec] of Object.entries(sources)) {
      const file = join(dir, `${name.replaceAll(" ", "-")}.mp4`);
      execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=4", ...codec, file]);
      const text = compactListing(file);
      for (const decoded of [true, false]) {
        const steps = readInPieces(text, decoded);
        const whole = steps.at(-1)!.table;
        let checked = 0;
        for (const { through, table } of steps) {
          for (let tick = 0; tick < 120; tick++) {
            if (keyframesNeeded(SEEKING, { first: tick + 1, count: 1 }) > through) break;
            expect(seekPoint(SEEKING, tick, table), `${name}, tick ${tick}`).toBe(seekPoint(SEEKING, tick, whole));
            checked++;
          }
        }
        // Not vacuous: for the closed GOPs at least, seeks were answered before the end.
        if (name === "x264 B-frames") expect(checked).toBeGreaterThan(steps.length * 10);
      }
    }
  });

  it("holds `through` back where a broken stream's keyframe decodes after it shows, or two share a display time", () => {
    const packet = (pts: string, dts: string, key: boolean) => `packet|pts_time=${pts}|dts_time=${dts}|flags=${key ? "K" : "_"}_\n`;
    const late = new KeyframeListing(true);
    late.push(packet("0.000000", "0.000000", true) + "frame|key_frame=1|pts_time=0.000000\n" + packet("0.500000", "0.500000", false) + packet("1.000000", "1.050000", true));
    expect(late.through).toBe(1e6);
    const twins = new KeyframeListing(true);
    twins.push(packet("1.000000", "0.900000", true) + packet("1.000000", "0.950000", true) + "frame|key_frame=0|pts_time=1.000000\n" + packet("2.000000", "2.000000", false));
    expect(twins.through).toBe(-Infinity);
    twins.end();
    expect(twins.through).toBe(Infinity);
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
  // Cold, its table is listed beside its probe; probed before (a trim edit), listed when the seek asks.
  it.each(["cold", "probed before"])("extracts once the listing has passed it, with the frames the whole table gives, and the next run seeks in what it listed (%s)", async (how) => {
    const clip = makeCodedVideo(join(dir, "clip.mp4"), { seconds: 10, codec: GOP_30 });
    // Older than a moment: a probe of a file that may still be being written is not remembered.
    utimesSync(clip, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFiles(dir, { "a.html": `<video src="clip.mp4" data-media-start="1" data-duration="0.5"></video>`, "b.html": `<video src="clip.mp4" data-media-start="2" data-duration="0.5"></video>`, "c.html": `<video src="clip.mp4" data-media-start="8" data-duration="0.5"></video>`, "start.html": `<video src="clip.mp4" data-duration="0.5"></video>` });
    // A listing that stalls after its first 5 s of packets (the one thing this is about): any
    // extraction that waited for the whole table would wait out the stall.
    const log = join(dir, "order.log");
    const ffprobePath = join(dir, "ffprobe");
    writeFileSync(
      ffprobePath,
      `#!/bin/sh
case "$*" in *packet=*) echo listing >> "${log}";; *) exec "${realFfprobe()}" "$@";; esac
"${realFfprobe()}" "$@" | awk 'NR == 160 { system("[ -e ${log}.once ] || { touch ${log}.once; echo stalled >> ${log}; sleep 6; }") } { print; fflush() }'
echo listed >> "${log}"
`,
    );
    chmodSync(ffprobePath, 0o755);
    const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
    const ffmpegPath = join(dir, "ffmpeg");
    writeFileSync(ffmpegPath, `#!/bin/sh\n[ "$1" = "-version" ] || printf 'ffmpeg %s\\n' "$*" >> "${log}"\nexec "${real}" "$@"\n`);
    chmodSync(ffmpegPath, 0o755);
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffprobePath, ffmpegPath });
    /** A one-off run of `page` with a fresh engine, disposed after: what it logged, its ffmpeg runs, its frames. */
    const oneOff = async (page: string) => {
      writeFileSync(log, "");
      const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
      try {
        const { results, errors } = await engine.run([join(dir, page)]);
        expect(errors).toEqual([]);
        const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
        return { lines, ffmpeg: lines.filter((l) => l.startsWith("ffmpeg ")), frames: readFrameNumbers(results[0]!.entry.dir) };
      } finally {
        await engine.dispose();
      }
    };
    if (how === "probed before") await oneOff("start.html");
    const first = await oneOff("a.html");
    // Done while the listing stalls, whether ffmpeg started before the stall or after it.
    expect(first.lines).toContain("stalled");
    expect(first.lines).not.toContain("listed");
    // Seeking to the keyframe at 1 s, found in the table so far (without one it would decode from 0).
    expect(first.ffmpeg).toEqual([expect.stringMatching(/ -ss 1 /)]);
    expect(first.frames).toEqual(range(30, 15));
    // The listing was stopped with the run, and what it had listed (about 4 s) remembered: a
    // one-off run seeking within it (a trim edit) lists nothing.
    const within = await oneOff("b.html");
    expect(within.lines).not.toContain("listing");
    expect(within.ffmpeg).toEqual([expect.stringMatching(/ -ss 2 /)]);
    expect(within.frames).toEqual(range(60, 15));
    // One seeking past the part lists the source again (without a stall now, to its end).
    const past = await oneOff("c.html");
    expect(past.lines).toContain("listing");
    expect(past.ffmpeg).toEqual([expect.stringMatching(/ -ss 8 /)]);
    expect(past.frames).toEqual(range(240, 15));
  });
});
