import { describe, expect, it } from "vitest";
import { keyInput, type KeyInput } from "../src/core/key.js";
import type { Task } from "../src/core/plan.js";
import { planReuse, segmentCount, sharedDecodes, splitFrames, type Donor, type ReuseTarget } from "../src/core/spans.js";
import { toMicros } from "../src/core/time.js";

const fps = { num: 30, den: 1 };

function input(ms: number, d: number, extra: Partial<KeyInput> = {}): KeyInput {
  return { ...keyInput({ p: "/v.mp4", m: 1, s: 100, ms, d, f: 30, fmt: "jpg" }), ...extra };
}

function donor(ms: number, frames: number, written = frames, extra: Partial<KeyInput> = {}): Donor {
  return { dir: "/d", input: input(ms, frames / 30, extra), frames, written };
}

/** A target whose frames sit on ticks, so a donor's media start may differ. */
function onTicks(input: KeyInput, mediaStart: number, frameCount: number, framesOnTicks = true): ReuseTarget {
  return { input, mediaStart, frameCount, fps, framesOnTicks };
}

describe("planReuse", () => {
  it("extends at the end: links the entry's frames, extracts the rest", () => {
    expect(planReuse(onTicks(input(0, 9), 0, 270), donor(0, 240))).toMatchObject({ offset: 0, reuse: { first: 1, count: 240 }, extract: [{ first: 241, count: 30 }] });
  });

  it("an earlier start extracts a head span; a later one shifts the frames", () => {
    expect(planReuse(onTicks(input(0.5, 1.5), toMicros(0.5), 45), donor(1, 30))).toMatchObject({ offset: -15, reuse: { first: 16, count: 30 }, extract: [{ first: 1, count: 15 }] });
    expect(planReuse(onTicks(input(1.1, 1), toMicros(1.1), 30), donor(1, 30))).toMatchObject({ offset: 3, reuse: { first: 1, count: 27 }, extract: [{ first: 28, count: 3 }] });
  });

  it("takes only frames ffmpeg wrote, and repeats the last where the donor met the source's end", () => {
    const plan = planReuse(onTicks(input(3.2, 1), toMicros(3.2), 30), donor(3, 60, 30));
    expect(plan).toMatchObject({ reuse: { first: 1, count: 24 }, extract: [], heldAfterReuse: true });
  });

  it("refuses windows that do not line up, other settings, and windows that do not overlap", () => {
    expect(planReuse(onTicks(input(1.01, 1), toMicros(1.01), 30), donor(1, 30))).toBeUndefined();
    expect(planReuse(onTicks(input(1, 1), toMicros(1), 30), donor(1, 30, 30, { t: "q=80" }))).toBeUndefined();
    expect(planReuse(onTicks(input(1, 1), toMicros(1), 30), donor(1, 30, 30, { m: 2 }))).toBeUndefined();
    expect(planReuse(onTicks(input(5, 1), toMicros(5), 30), donor(1, 30))).toBeUndefined();
  });

  it("off ticks, takes frames only from the same start and only when nothing is left to extract", () => {
    expect(planReuse(onTicks(input(0.5, 1.5), toMicros(0.5), 45, false), donor(1, 30))).toBeUndefined();
    expect(planReuse(onTicks(input(1, 2), toMicros(1), 60, false), donor(1, 30))).toBeUndefined();
    expect(planReuse(onTicks(input(1, 0.5), toMicros(1), 15, false), donor(1, 30))).toMatchObject({ offset: 0, reuse: { first: 1, count: 15 }, extract: [] });
  });
});

describe("sharedDecodes", () => {
  function task(ms: number, frames: number, p = "/v.mp4"): Task {
    return { key: `${p}@${ms}`, entry: "e", input: { ...input(ms, frames / 30), p }, mediaStart: toMicros(ms), fps, frameCount: frames, framesOnTicks: true } as Task;
  }

  it("groups windows that overlap or touch whole frames apart, and leaves the rest alone", () => {
    const groups = sharedDecodes([task(3, 30), task(0, 60), task(1, 60), task(5, 30), task(4.01, 10), task(0, 30, "/other.mp4")]);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.members.map((t) => t.key)).toEqual(["/v.mp4@0", "/v.mp4@1", "/v.mp4@3"]);
    expect(groups[0]!.task.frameCount).toBe(120);
  });

  it("groups different media starts only when the frames sit on ticks", () => {
    const offTicks = (t: Task): Task => ({ ...t, framesOnTicks: false });
    expect(sharedDecodes([offTicks(task(0, 60)), offTicks(task(1, 60))])).toEqual([]);
    expect(sharedDecodes([offTicks(task(0, 60)), offTicks(task(0, 30))])).toHaveLength(1);
  });
});

describe("splitFrames and segmentCount", () => {
  it("splits into consecutive spans that cover every frame once", () => {
    expect(splitFrames(10, 3)).toEqual([{ first: 1, count: 3 }, { first: 4, count: 3 }, { first: 7, count: 4 }]);
    expect(splitFrames(2, 4)).toEqual([{ first: 1, count: 1 }, { first: 2, count: 1 }]);
  });

  it("stays one pass below 8 cores and for short clips", () => {
    expect(segmentCount(6000, 2, 1)).toBe(1);
    expect(segmentCount(6000, 16, 2)).toBe(4);
    expect(segmentCount(400, 16, 1)).toBe(1);
  });
});
