import type pLimit from "p-limit";
import { statSync } from "node:fs";
import { FramecacheError } from "../core/errors.js";
import type { Task } from "../core/plan.js";
import { timed, type ExtractionProgress, type Report } from "../core/report.js";
import type { Binaries } from "../media/binaries.js";
import { tryLock, waitForLock } from "../store/lock.js";
import { lookupEntry, publishEntry } from "../store/store.js";
import type { EntryRequest, EntrySource } from "./entry-sources.js";
import type { Outcome } from "./results.js";
import { statStamp } from "./sources.js";
import type { Batching, ExtractionStrategy } from "./strategy.js";

export interface ExtractionConfig {
  binaries: () => Promise<Binaries>;
  strategy: ExtractionStrategy;
  /** ffmpeg slots, shared with the run's shared decodes. */
  slots: ReturnType<typeof pLimit>;
  report: Report;
  progress?: ExtractionProgress;
  /** Called before each extraction starts; tests count runs with it. */
  onExtract?: (task: Task) => void;
}

/**
 * The last source: ffmpeg, under the key's lock, so processes sharing the store run it once per
 * key. It always answers: when another process holds the lock it waits (outside the ffmpeg
 * slots) and takes that entry, or extracts if the other one failed. (The shared cache is not
 * asked again then: the other process would have found the entry there too.)
 */
export function extraction(config: ExtractionConfig): EntrySource {
  const locked = async (task: Task, { store, signal, shared = [] }: EntryRequest, batching?: Batching): Promise<Outcome | undefined> => {
    const lock = await tryLock(store, task.entry);
    if (!lock) return undefined;
    try {
      // Another caller may have published it while this one queued or waited.
      const late = await lookupEntry(store, task);
      if (late) return { entry: late, cache: "hit" };
      // Aborted while queued for a slot: do not start ffmpeg at all.
      if (signal?.aborted) throw new FramecacheError("FC_CANCELLED", `extracting ${task.source} was cancelled`);
      config.onExtract?.(task);
      const progress = config.progress?.begin(task);
      try {
        const entry = await publishEntry(store, task, async (dir) => {
          const filled = await config.strategy.fill(task, dir, store, shared, signal, progress, batching);
          assertSourceUnchanged(task);
          return filled;
        });
        return { entry, cache: "miss" };
      } finally {
        progress?.end();
      }
    } finally {
      await lock.release();
    }
  };
  return {
    name: "extract",
    async get(task, request) {
      // A missing ffmpeg is reported before any slot or lock is taken.
      await config.binaries();
      const { batch } = request;
      if (batch?.has(task)) {
        // Outside the slots: a batch takes one when all its members are in (see Batches).
        const slot = <T>(work: () => Promise<T>) => config.slots(() => timed(config.report, "extractMs", work));
        const made = await locked(task, request, { batch, slot, donors: request.donors }).finally(() => batch.withdraw(task));
        if (made) return made;
      }
      for (;;) {
        const made = await config.slots(() => timed(config.report, "extractMs", () => locked(task, request, request.donors && { slot: (work) => work(), donors: request.donors })));
        if (made) return made;
        await waitForLock(request.store, task.entry, request.signal);
        // What the other process published is read without waiting for an ffmpeg slot.
        const published = await lookupEntry(request.store, task);
        if (published) return { entry: published, cache: "hit" };
      }
    },
  };
}

/**
 * The key names the bytes the source had when it was planned; if the file was replaced or written
 * since (a dev server's edit, a build beside a download), ffmpeg may have read the new bytes, and
 * publishing its frames under the old key would serve them for bytes they do not come from.
 */
function assertSourceUnchanged(task: Task): void {
  if (task.sourceStamp === undefined) return;
  const now = statSync(task.source, { throwIfNoEntry: false });
  if (now && statStamp(now) === task.sourceStamp) return;
  throw new FramecacheError("FC_SOURCE_CHANGED", `${task.source} changed while its frames were being extracted; they were not kept`, {
    hint: "Nothing to do in dev (the new file is planned again); in a build, run it again once the file stays put.",
  });
}
