import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type pLimit from "p-limit";
import type { FfmpegProgress } from "../core/ffmpeg-progress.js";
import { extractionArgs, needsKeyframes, seeksByTable, type Keyframe } from "../core/ffmpeg-args.js";
import { frameFileName } from "../core/frames.js";
import type { Logger } from "../core/logger.js";
import { extractionTimeout } from "../core/options.js";
import type { Task } from "../core/plan.js";
import { timed, type Report, type TaskProgress } from "../core/report.js";
import type { Micros } from "../core/time.js";
import { bestReuse, segmentCount, sharedDecodes, type Donor } from "../core/spans.js";
import type { Binaries } from "../media/binaries.js";
import { digestFollowing } from "../media/digest.js";
import { extractFrames } from "../media/extract.js";
import { lookupEntry, partialDir, type Produced } from "../store/store.js";
import { ALONE, type Batches } from "./batch.js";
import { assembleFrames, clearDir, extractSegments, storeDonors, UnusableDonor } from "./reuse.js";

export interface StrategyConfig {
  binaries: () => Promise<Binaries>;
  /** The task's source's keyframes: all of them, or at least those before `through` (see keyframesNeeded). */
  keyframes: (task: Task, through?: Micros) => Promise<Keyframe[]>;
  /** The `timeout` option: milliseconds per run, or scaled with the frame count. */
  timeout: number | undefined;
  concurrency: number;
  /** Segments per extraction; default from the machine's cores (1 below 8). */
  segments?: number;
  logger: Logger;
}

/**
 * A miss that may share an ffmpeg process with other windows of its source: it is filled
 * outside any ffmpeg slot, and takes one (`slot`) only for work of its own.
 */
export interface Batching {
  batch?: Batches;
  slot: <T>(work: () => Promise<T>) => Promise<T>;
  /** The store's donors as this run first read them (see donorSnapshot); else read for this miss. */
  donors?: (task: Task) => Promise<Donor[]>;
}

/** Decodes of this run that several misses take frames from; removed by `dispose`. */
export interface SharedRun {
  /** Keys of the tasks that wait for `ready` before they are produced. */
  members: Set<string>;
  donors: Donor[];
  ready: Promise<void>;
  dispose(): Promise<void>;
}

/** How a miss's frames are made: from a donor (a trim edit), in segments, or in one pass. */
export class ExtractionStrategy {
  constructor(private readonly config: StrategyConfig) {}

  /**
   * A miss's frames in `dir`: taken from an entry or shared decode of the same source and settings
   * whose frames line up (a trim edit), extracting only what is missing; else one ffmpeg pass.
   */
  async fill(task: Task, dir: string, store: string, shared: readonly Donor[], signal?: AbortSignal, progress?: TaskProgress, batching?: Batching): Promise<Produced> {
    const binaries = await this.config.binaries();
    const { batch, slot, donors = (t: Task) => storeDonors(store, t) } = batching ?? { slot: <T>(work: () => Promise<T>) => work() };
    const plan = bestReuse(task, [...shared, ...(await donors(task))]);
    const keyframes = (through?: Micros) => this.config.keyframes(task, through);
    const options = {
      signal,
      onProgress: progress && ((p: FfmpegProgress) => progress.update(p)),
      timeoutMs: extractionTimeout(task.frameCount, this.config.timeout),
      keyframes,
    };
    if (plan) {
      batch?.withdraw(task);
      try {
        return await slot(() => assembleFrames(binaries, task, dir, plan, options));
      } catch (error) {
        if (!(error instanceof UnusableDonor)) throw error;
        if (error.code === "DONOR_DAMAGED") this.config.logger.warn(`framecache: [FC_STORE_CORRUPT] ${error.message}; extracting instead. Run \`framecache verify --fix\` to remove it.`);
        if (error.code === "DONOR_UNREADABLE") this.config.logger.warn(`framecache: ${error.message}; extracting instead.`);
        await clearDir(dir);
      }
    }
    const parts = await this.segments(task);
    if (parts > 1) {
      batch?.withdraw(task);
      return slot(() => extractSegments(binaries, task, dir, parts, options));
    }
    if (batch) {
      const made = await batch.join(task, dir, progress);
      if (made !== ALONE) return made;
      await clearDir(dir);
    }
    return slot(async () => {
      // One pass writes frames in order: they are hashed as they come, not after.
      const extracting = extractFrames(binaries, task, dir, options);
      const digesting = digestFollowing((i) => join(dir, frameFileName(i, task.format)), task.frameCount, extracting);
      const [written, digest] = await Promise.all([extracting, digesting]);
      return { written, digest };
    });
  }

  /** The ffmpeg arguments of one pass over the task into `outDir` (the benchmark's baseline). */
  async commandFor(task: Task, outDir: string): Promise<string[]> {
    return extractionArgs(task, outDir, undefined, needsKeyframes(task) ? await this.config.keyframes(task) : undefined);
  }

  /**
   * Misses of one source and settings whose windows overlap or touch, whole frames apart, are
   * decoded in one ffmpeg pass over their union, each in an ffmpeg slot; each member then takes
   * its frames from it by hard link. Only videos in such a group are looked up here, so a run
   * without overlaps pays nothing. A pass that fails leaves its members to extract on their own.
   */
  async decodeShared(store: string, tasks: Task[], slots: ReturnType<typeof pLimit>, report: Report, signal?: AbortSignal): Promise<SharedRun> {
    const candidates = sharedDecodes([...new Map(tasks.map((t) => [t.key, t])).values()]).flatMap((g) => g.members);
    const misses: Task[] = [];
    for (const task of candidates) if (!(await lookupEntry(store, task))) misses.push(task);
    const groups = sharedDecodes(misses);
    const donors: Donor[] = [];
    const dirs = groups.map((g) => partialDir(store, g.task.entry) + "-shared");
    const decode = async (task: Task, dir: string) => {
      try {
        await mkdir(dir, { recursive: true });
        const binaries = await this.config.binaries();
        const options = { signal, timeoutMs: extractionTimeout(task.frameCount, this.config.timeout), keyframes: (through?: Micros) => this.config.keyframes(task, through) };
        const written = await slots(() => timed(report, "extractMs", () => extractFrames(binaries, task, dir, options)));
        donors.push({ dir, input: task.input, frames: task.frameCount, written });
      } catch (error) {
        if (signal?.aborted) throw error;
      }
    };
    const ready = Promise.all(groups.map((g, i) => decode(g.task, dirs[i]!))).then(() => undefined);
    return {
      members: new Set(groups.flatMap((g) => g.members.map((t) => t.key))),
      donors,
      ready,
      dispose: async () => {
        await ready.catch(() => undefined);
        await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
      },
    };
  }

  /** Segments are spans: exact only when the frames sit on ticks (see planReuse). */
  private async segments(task: Task): Promise<number> {
    if (!task.framesOnTicks) return 1;
    const parts = this.config.segments ?? segmentCount(task.frameCount, availableParallelism(), this.config.concurrency);
    // Without its keyframes, every segment of a reordering source would decode from the start.
    if (parts > 1 && seeksByTable(task) && !(await this.config.keyframes(task)).length) return 1;
    return parts;
  }
}
