import { describe, expect, it } from "vitest";
import { batchArgs, extractionArgs, needsKeyframes, seekPoint, type Keyframe } from "../src/core/ffmpeg-args.js";
import type { Task } from "../src/core/plan.js";
import { toMicros } from "../src/core/time.js";

/** A 30 fps task; `containerOffset` is where the stream's clock stands when the container's starts. */
function task(mediaStart: number, over: Partial<Task> = {}, containerOffset = 0): Task {
  const ms = toMicros(mediaStart);
  return {
    seekable: true,
    reorders: true,
    recoveryPoints: false,
    mediaStart: ms,
    seek: ms,
    origin: ms + toMicros(containerOffset),
    fps: { num: 30, den: 1 },
    frameCount: 30,
    source: "/v.mp4",
    format: "jpg",
    quality: 95,
    ...over,
  } as Task;
}

/** Keyframes at `seconds`, each decoded two frames before it is shown. */
function at(...seconds: number[]): Keyframe[] {
  return seconds.map((t) => ({ pts: toMicros(t), dts: toMicros(t) - 66_667 }));
}

const keyframes = at(0, 1, 2, 8);

describe("seekPoint", () => {
  it("goes to the tick's own time in a source without B-frames", () => {
    expect(seekPoint(task(1.5, { reorders: false }), 0)).toBe(toMicros(1.5));
    expect(seekPoint(task(1.5, { reorders: false }), 15)).toBe(toMicros(2));
  });

  it("without B-frames but with a codec that flags recovery points, goes to the last keyframe of the table", () => {
    // The table holds only keyframes that decode on their own: none at 1 s here.
    const real = [0, 2].map((t) => ({ pts: toMicros(t), dts: toMicros(t) }));
    expect(seekPoint(task(1.5, { reorders: false, recoveryPoints: true }), 0, real)).toBe(0);
    expect(seekPoint(task(1.5, { reorders: false, recoveryPoints: true }), 15, real)).toBe(toMicros(2));
  });

  it("with B-frames, goes to the last keyframe shown by the tick, whatever the reordering", () => {
    expect(seekPoint(task(1.5), 0, keyframes)).toBe(toMicros(1));
    expect(seekPoint(task(0), 240, keyframes)).toBe(toMicros(8));
    expect(seekPoint(task(0), 239, keyframes)).toBe(toMicros(2));
  });

  it("counts a keyframe a hair after the tick as shown then (it rounds to the tick), but not one a frame after", () => {
    const slightly = [...at(0), { pts: toMicros(1) + 3, dts: toMicros(1) + 3 }];
    expect(seekPoint(task(0), 30, slightly)).toBe(toMicros(1) + 3);
    expect(seekPoint(task(0), 29, slightly)).toBe(0);
  });

  it("counts -ss from the container's start when the stream starts later (MPEG-TS-like clocks)", () => {
    const late = at(1.4, 2.4, 3.4);
    expect(seekPoint(task(1.2, {}, 1.4), 0, late)).toBe(toMicros(1));
  });

  it("never seeks as late as a later keyframe's decode time, which an index may file it under", () => {
    // Keyframes a frame apart (a scene cut), decoded two frames early: seeking to the first one's
    // display time could land on the second, shown after the tick.
    const adjacent = at(0, 1, 1 + 1 / 30);
    expect(seekPoint(task(0), 30, adjacent)).toBe(adjacent[2]!.dts - 1);
  });

  it("decodes from the start without a table, and never seeks a source that cannot", () => {
    expect(seekPoint(task(1.5), 0)).toBe(0);
    expect(seekPoint(task(1.5, { seekable: false }), 0, keyframes)).toBeUndefined();
    expect(extractionArgs(task(1.5, { seekable: false }), "/out")).not.toContain("-ss");
    expect(extractionArgs(task(1.5), "/out", { first: 1, count: 30 }, keyframes)).toEqual(expect.arrayContaining(["-noaccurate_seek", "-ss", "1"]));
  });

  it("asks for the table only to seek past the start of a reordering source, or one that flags recovery points", () => {
    expect(needsKeyframes(task(0))).toBe(false);
    expect(needsKeyframes(task(0), { first: 31, count: 30 })).toBe(true);
    expect(needsKeyframes(task(1))).toBe(true);
    expect(needsKeyframes(task(1, { reorders: false }))).toBe(false);
    expect(needsKeyframes(task(1, { reorders: false, recoveryPoints: true }))).toBe(true);
    expect(needsKeyframes(task(1, { seekable: false }))).toBe(false);
  });
});

describe("batchArgs", () => {
  it("gives each window its own input and output, as its own run has them; single-threaded, -threads 1 on each", () => {
    const windows = [task(1), task(2.5, { frameCount: 15 })].map((t, i) => ({ task: t, outDir: `/out/${i}`, keyframes }));
    const own = windows.map((w) => extractionArgs(w.task, w.outDir, undefined, keyframes));
    const batched = batchArgs(windows);
    expect(batched.filter((a) => a === "-i")).toHaveLength(2);
    // Each window's input options and output options are its own run's, the output mapping its input.
    for (const [i, args] of own.entries()) {
      const input = args.slice(args.indexOf("-noaccurate_seek"), args.indexOf("-i") + 2).join(" ");
      expect(batched.join(" ")).toContain(input);
      const output = args.slice(args.indexOf("-map") + 2).join(" ");
      expect(batched.join(" ")).toContain(`-map ${i}:v:0 ${output}`);
    }
    const single = batchArgs(windows, { singleThreaded: true }).join(" ");
    expect(single.match(/-threads 1 -noaccurate_seek -ss \S+ -i /g)).toHaveLength(2);
    expect(single.match(/-map \d:v:0 -threads 1 /g)).toHaveLength(2);
  });
});
