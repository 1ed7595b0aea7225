import { availableParallelism } from "node:os";
import type pLimit from "p-limit";
import { FramecacheError } from "../core/errors.js";
import { needsKeyframes, type Keyframe } from "../core/ffmpeg-args.js";
import { batchProcesses, windowCost } from "../core/batch.js";
import { extractionTimeout } from "../core/options.js";
import type { Task } from "../core/plan.js";
import { timed, type Report, type TaskProgress } from "../core/report.js";
import type { Binaries } from "../media/binaries.js";
import { extractBatch } from "../media/batch.js";
import { holdFrames, NO_FRAMES_HINT } from "../media/extract.js";

export interface BatchConfig {
  binaries: () => Promise<Binaries>;
  keyframes: (task: Task) => Promise<Keyframe[]>;
  timeout: number | undefined;
  slots: ReturnType<typeof pLimit>;
  report: Report;
  signal?: AbortSignal;
}

/** Asked of a batch member whose window the batch did not make: it extracts on its own. */
export const ALONE = Symbol("alone");

interface Joined {
  task: Task;
  dir: string;
  progress?: TaskProgress;
  settle: (result: Promise<number | typeof ALONE>) => void;
}

/**
 * Windows of one source that may share ffmpeg processes (see batchCandidates). Each member
 * either joins with its partial directory, under its own key's lock, or withdraws (a hit, another
 * process holds its key, a trim edit makes it differently); once every member has done one or
 * the other, the joined ones are cut into processes (batchProcesses), each run in one ffmpeg
 * slot. A member that did not join holds nobody up. A process that fails names no window, so
 * each member then extracts alone and fails, or not, on its own; a cancelled one cancels its
 * members, each removing its own partial.
 */
class Batch {
  private readonly waiting: Set<string>;
  private readonly joined: Joined[] = [];
  private started = false;

  constructor(
    tasks: readonly Task[],
    private readonly config: BatchConfig,
  ) {
    this.waiting = new Set(tasks.map((t) => t.key));
  }

  join(task: Task, dir: string, progress?: TaskProgress): Promise<number | typeof ALONE> {
    if (this.started || !this.waiting.has(task.key)) return Promise.resolve(ALONE);
    return new Promise((resolve) => {
      this.joined.push({ task, dir, progress, settle: resolve });
      this.waiting.delete(task.key);
      this.startWhenReady();
    });
  }

  withdraw(task: Task): void {
    if (this.waiting.delete(task.key)) this.startWhenReady();
  }

  private startWhenReady(): void {
    if (this.started || this.waiting.size > 0) return;
    this.started = true;
    // Settled by start; a cancelled run cancels each window, another failure leaves each alone.
    this.start().catch((error: unknown) => {
      const cancelled = error instanceof FramecacheError && error.code === "FC_CANCELLED";
      this.joined.forEach((j) => j.settle(cancelled ? Promise.reject(error) : Promise.resolve(ALONE)));
    });
  }

  private async start(): Promise<void> {
    const tasks = this.joined.map((j) => j.task);
    const table = tasks.some((t) => needsKeyframes(t)) ? await this.config.keyframes(tasks[0]!) : undefined;
    // The listing is shared, so it ran on; the windows need not.
    if (this.config.signal?.aborted) throw new FramecacheError("FC_CANCELLED", `extracting ${tasks.length} windows of ${tasks[0]!.source} was cancelled`);
    const byKey = new Map(this.joined.map((j) => [j.task.key, j]));
    const cost = (t: Task) => windowCost(t, needsKeyframes(t) ? table : undefined);
    const { alone, shared } = batchProcesses(tasks, this.config.slots.concurrency, availableParallelism(), cost);
    alone.forEach((t) => byKey.get(t.key)!.settle(Promise.resolve(ALONE)));
    for (const process of shared) {
      const members = process.tasks.map((t) => byKey.get(t.key)!);
      const making = this.make(members, table, process.singleThreaded);
      members.forEach((j, k) => j.settle(making.then((written) => this.finish(j, written?.[k]))));
    }
  }

  private async make(members: Joined[], table: readonly Keyframe[] | undefined, singleThreaded: boolean): Promise<number[] | undefined> {
    const { config } = this;
    const frames = members.reduce((n, j) => n + j.task.frameCount, 0);
    try {
      const binaries = await config.binaries();
      return await config.slots(() =>
        timed(config.report, "extractMs", () =>
          extractBatch(binaries, members.map((j) => ({ task: j.task, dir: j.dir, onProgress: j.progress && ((p) => j.progress!.update(p)) })), {
            signal: config.signal,
            timeoutMs: extractionTimeout(frames, config.timeout),
            keyframes: async () => table ?? [],
            singleThreaded,
          }),
        ),
      );
    } catch (error) {
      if (error instanceof FramecacheError && error.code === "FC_CANCELLED") throw error;
      return undefined;
    }
  }

  private async finish(member: Joined, written: number | undefined): Promise<number | typeof ALONE> {
    if (written === undefined) return ALONE;
    // What its own pass would have said: a window at or past the source's end.
    if (written === 0) throw new FramecacheError("FC_FFMPEG_FAILED", `ffmpeg wrote no frames for ${member.task.source}`, { hint: NO_FRAMES_HINT });
    await holdFrames(member.dir, member.task.format, written, member.task.frameCount);
    return written;
  }
}

/** This run's batches, by member key. */
export class Batches {
  private readonly byKey = new Map<string, Batch>();

  constructor(groups: readonly (readonly Task[])[], config: BatchConfig) {
    for (const tasks of groups) {
      const batch = new Batch(tasks, config);
      for (const task of tasks) this.byKey.set(task.key, batch);
    }
  }

  has(task: Task): boolean {
    return this.byKey.has(task.key);
  }

  /** The member's frames in `dir`, written by its batch, or ALONE: it extracts them itself. */
  join(task: Task, dir: string, progress?: TaskProgress): Promise<number | typeof ALONE> {
    return this.byKey.get(task.key)?.join(task, dir, progress) ?? Promise.resolve(ALONE);
  }

  /** The member will not join (no-op once it did). */
  withdraw(task: Task): void {
    this.byKey.get(task.key)?.withdraw(task);
  }
}
