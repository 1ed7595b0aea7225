import { describe, expect, it } from "vitest";
import { BATCH_LIMITS, batchCandidates, batchProcesses, splitBatch } from "../src/core/batch.js";
import type { Task } from "../src/core/plan.js";

function task(source: string, i: number, frames = 15, width = 1920, height = 1080): Task {
  return { key: `${source}-${i}`, source, mediaStart: i * 1e6, frameCount: frames, size: { width, height }, sourceSize: { width, height } } as Task;
}
const sizes = (batches: Task[][]) => batches.map((b) => b.length);

describe("batches of short windows of one source", () => {
  it("groups short windows by source, two or more a group", () => {
    const tasks = [task("a", 0), task("b", 0), task("a", 1), task("a", 2, BATCH_LIMITS.windowFrames + 1)];
    expect(batchCandidates(tasks).map((g) => g.map((t) => t.key))).toEqual([["a-0", "a-1"]]);
  });

  it("bounds a process by the pixels its inputs decode, in whole rounds of the slots", () => {
    const twelve = Array.from({ length: 12 }, (_, i) => task("a", i));
    // Four 1080p inputs at most: three batches needed, four for two slots side by side.
    expect(sizes(splitBatch(twelve, 2))).toEqual([3, 3, 3, 3]);
    expect(sizes(splitBatch(twelve, 1))).toEqual([4, 4, 4]);
    const small = Array.from({ length: 25 }, (_, i) => task("s", i, 3, 320, 180));
    expect(sizes(splitBatch(small, 2))).toEqual([13, 12]);
    expect(Math.max(...sizes(splitBatch(Array.from({ length: 40 }, (_, i) => task("s", i, 3, 320, 180)), 1)))).toBeLessThanOrEqual(BATCH_LIMITS.inputs);
  });

  it("gives each window, costliest first, to the process with the least work so far", () => {
    const twelve = Array.from({ length: 12 }, (_, i) => task("a", i));
    // Windows 3, 7 and 11 decode far ahead of their start: in start order two would share a process.
    const cost = (t: Task) => (t.mediaStart % 4e6 === 3e6 ? 10 : 1);
    const batches = splitBatch(twelve, 2, cost);
    expect(sizes(batches)).toEqual([3, 3, 3, 3]);
    expect(batches.map((b) => b.reduce((n, t) => n + cost(t), 0))).toEqual([12, 12, 12, 3]);
    // Each process's windows in start order.
    for (const b of batches) expect(b.map((t) => t.mediaStart)).toEqual([...b.map((t) => t.mediaStart)].sort((x, y) => x - y));
  });

  it("by planned frames, and never decodes two 4K sources in one process", () => {
    const long = Array.from({ length: 12 }, (_, i) => task("s", i, 150, 320, 180));
    expect(splitBatch(long, 1).every((b) => b.reduce((n, t) => n + t.frameCount, 0) <= BATCH_LIMITS.frames)).toBe(true);
    expect(sizes(splitBatch([task("k", 0, 15, 3840, 2160), task("k", 1, 15, 3840, 2160)], 2))).toEqual([1, 1]);
    expect(sizes(splitBatch([task("a", 0), task("a", 1)], 4))).toEqual([2]);
    // Two 1440p inputs at most, however few processes the windows make.
    const qhd = Array.from({ length: 5 }, (_, i) => task("q", i, 15, 2560, 1440));
    expect(sizes(splitBatch(qhd, 2)).sort()).toEqual([1, 2, 2]);
    expect(Math.max(...sizes(splitBatch(Array.from({ length: 9 }, (_, i) => task("q", i, 15, 2560, 1440)), 1)))).toBe(2);
  });

  it("gives processes that fill the cores one thread a codec, and with it room for more inputs", () => {
    const twelve = Array.from({ length: 12 }, (_, i) => task("a", i));
    const shape = (p: ReturnType<typeof batchProcesses>) => p.shared.map((b) => `${b.tasks.length}${b.singleThreaded ? "s" : "t"}`);
    // Six 1080p inputs on one thread each are within the memory of four with codec threads.
    expect(shape(batchProcesses(twelve, 2, 2))).toEqual(["6s", "6s"]);
    expect(shape(batchProcesses(twelve, 2, 4))).toEqual(["3t", "3t", "3t", "3t"]);
    expect(shape(batchProcesses(twelve, 1, 2))).toEqual(["4t", "4t", "4t"]);
    // One process with a core to spare keeps its threads.
    expect(shape(batchProcesses(twelve.slice(0, 3), 2, 2))).toEqual(["3t"]);
    // Too few windows for a round: cut for threads, as before, not merged onto one thread.
    const qhd = Array.from({ length: 3 }, (_, i) => task("q", i, 15, 2560, 1440));
    expect(shape(batchProcesses(qhd, 2, 2))).toEqual(["2t"]);
    const big = Array.from({ length: 6 }, (_, i) => task("b", i, 15, 3200, 1800));
    expect(batchProcesses(big.slice(0, 2), 2, 2)).toEqual({ alone: big.slice(0, 2), shared: [] });
    // A last round's process with more inputs than threads have memory for stays on one thread.
    expect(shape(batchProcesses(big, 2, 2))).toEqual(["2s", "2s", "2s"]);
    // Windows that share no process are left to run alone.
    const uhd = [task("k", 0, 15, 3840, 2160), task("k", 1, 15, 3840, 2160)];
    expect(batchProcesses(uhd, 2, 2)).toEqual({ alone: uhd, shared: [] });
  });
});
