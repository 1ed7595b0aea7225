import type { Logger } from "../core/logger.js";
import type { Task } from "../core/plan.js";
import type { Report } from "../core/report.js";
import type { Donor } from "../core/spans.js";
import { collectGarbage } from "../store/gc.js";
import type { Batches } from "./batch.js";
import type { EntrySource } from "./entry-sources.js";
import type { Outcome } from "./results.js";
import type { StoreDir } from "./store-dir.js";

export interface EnsureOptions {
  signal?: AbortSignal;
  /** This run's shared decodes (see ExtractionStrategy.decodeShared). */
  shared?: readonly Donor[];
  /** This run's batches (see Batches). */
  batch?: Batches;
  /** The store's donors as this run first read them (see donorSnapshot). */
  donors?: (task: Task) => Promise<Donor[]>;
}

/**
 * A task's complete entry, from the first source that has it (local store, shared cache,
 * extraction), produced once however many callers ask at the same time. Counts what it
 * extracted, so that garbage is collected only after something was added.
 */
export class Producer {
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  private extracted = 0;
  private extractedAtLastGc = 0;

  constructor(
    private readonly sources: readonly EntrySource[],
    private readonly store: StoreDir,
    private readonly gc: { maxSize: number; report: Report; logger: Logger },
  ) {}

  ensure(task: Task, options: EnsureOptions = {}): Promise<Outcome> {
    let running = this.inFlight.get(task.key);
    if (!running) {
      running = this.produce(task, options).finally(() => this.inFlight.delete(task.key));
      this.inFlight.set(task.key, running);
    }
    return running;
  }

  private async produce(task: Task, { signal, shared, batch, donors }: EnsureOptions): Promise<Outcome> {
    const store = await this.store.get();
    for (const source of this.sources) {
      const found = await source.get(task, { store, signal, shared, batch, donors });
      if (!found) continue;
      if (found.cache === "miss") {
        this.extracted++;
        for (const other of this.sources) if (other !== source) other.put?.(task, found.entry);
      }
      return found;
    }
    throw new Error(`no entry source answered for ${task.entry}; the last one must always answer`);
  }

  /**
   * Bring the store under `maxCacheSize` if anything was extracted since the last call
   * (after a build; a dev server may call it after each rebuild), sparing the entries `inUse`.
   * Counts go to the report.
   */
  async collectGarbage(inUse?: ReadonlySet<string>): Promise<void> {
    if (this.extracted === this.extractedAtLastGc || !this.store.opened || !this.store.cached) return;
    this.extractedAtLastGc = this.extracted;
    try {
      const stats = await collectGarbage(await this.store.get(), { maxSize: this.gc.maxSize, inUse });
      this.gc.report.gcEvicted += stats.evicted;
      this.gc.report.gcBytesFreed += stats.bytesFreed;
    } catch (error) {
      this.gc.logger.warn(`framecache: cache cleanup failed (${(error as Error).message}); run \`framecache gc\``);
    }
  }
}
