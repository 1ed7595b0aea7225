import type { Task } from "../core/plan.js";
import { touchEntry, type StoredEntry } from "../store/store.js";
import type { Engine } from "./engine.js";
import type { Outcome } from "./results.js";

/** One extraction a dev session asked for; its controller kills ffmpeg once nothing wants the entry. */
export interface Run {
  task: Task;
  controller: AbortController;
  promise: Promise<Outcome>;
  outcome?: Outcome;
  failed?: unknown;
}

export interface RunsOptions {
  /** How long a frame request waits for its entry's extraction. @default 120_000 */
  waitTimeoutMs?: number;
  /**
   * Serving an entry's frames marks it used (any process's GC spares entries used within the
   * hour), at most this often. @default 600_000
   */
  touchEveryMs?: number;
}

/** The dev session's extractions by entry name: started, reused, waited for, superseded. */
export class DevRuns {
  private readonly runs = new Map<string, Run>();
  /** When this session last marked each entry used. */
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly options: RunsOptions,
  ) {}

  get(name: string): Run | undefined {
    return this.runs.get(name);
  }

  /** True while some extraction has not settled. */
  get busy(): boolean {
    return [...this.runs.values()].some((r) => !r.outcome && !r.failed);
  }

  /**
   * The run for a task: the current one when it is still good (`started` false), else a new
   * extraction. A failed run is kept unless `retryFailed`.
   */
  async start(task: Task, retryFailed: boolean): Promise<{ run: Run; started: boolean }> {
    const known = this.runs.get(task.entry);
    if (known && known.task.key === task.key && !known.controller.signal.aborted && (!known.failed || !retryFailed)) {
      // Serving an entry again is a use on the LRU clock; one removed since (gc, `framecache clean`) is made again.
      if (!known.outcome || (await touchEntry(known.outcome.entry.dir))) return { run: known, started: false };
    }
    const controller = new AbortController();
    // Listings made ahead of need give the cores to this run; they are asked for again once all is idle.
    this.engine.stopPrefetches();
    // A superseded run of the same key must settle before the engine is asked again.
    const before = known ? known.promise.then(noop, noop) : Promise.resolve();
    const run: Run = { task, controller, promise: before.then(() => this.engine.ensure(task, controller.signal)) };
    run.promise.then(
      (outcome) => void (run.outcome = outcome),
      (error: unknown) => void (run.failed = error),
    );
    this.runs.set(task.entry, run);
    return { run, started: true };
  }

  /** The complete entry behind a frame URL, waiting for its extraction when it runs. */
  async entry(name: string): Promise<StoredEntry | "missing" | "timeout"> {
    const run = this.runs.get(name);
    if (!run) return "missing";
    if (run.outcome) return this.used(run.outcome.entry);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.options.waitTimeoutMs ?? 120_000);
    });
    try {
      return await Promise.race([run.promise.then((o) => o.entry, () => "missing" as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Abort running extractions whose entries are not `wanted` any more. */
  supersede(wanted: ReadonlySet<string>): void {
    for (const [name, run] of this.runs) {
      if (!wanted.has(name) && !run.outcome && !run.failed) run.controller.abort();
    }
  }

  /** Kill every running extraction and wait for them to settle; their partial directories are removed as they fail. */
  async dispose(): Promise<void> {
    for (const run of this.runs.values()) run.controller.abort();
    await Promise.allSettled([...this.runs.values()].map((r) => r.promise));
  }

  /** A page open for hours keeps using its frames without a reload: another process's GC must see that. */
  private used(entry: StoredEntry): StoredEntry {
    const now = Date.now();
    if (now - (this.touched.get(entry.name) ?? -Infinity) >= (this.options.touchEveryMs ?? 600_000)) {
      this.touched.set(entry.name, now);
      void touchEntry(entry.dir);
    }
    return entry;
  }
}

function noop(): void {}
