import { availableParallelism } from "node:os";
import pLimit from "p-limit";
import type { Keyframe } from "../core/ffmpeg-args.js";
import { GrowingTable, type KeyframeListing, type PartTable } from "../core/keyframe-listing.js";
import { keyframeListing, type SourceInfo } from "../core/plan.js";
import { timed, type Report } from "../core/report.js";
import type { Micros } from "../core/time.js";
import type { Located } from "../media/binaries.js";
import { probeKeyframes } from "../media/probe.js";
import type { MemoLook, StatMemo } from "../store/digest-memo.js";

export function isKeyframes(value: unknown): value is Keyframe[] {
  return Array.isArray(value) && value.every((k: Keyframe) => Number.isInteger(k?.pts) && Number.isInteger(k?.dts));
}

export function isPartTable(value: unknown): value is PartTable {
  const part = value as PartTable | undefined;
  return Number.isInteger(part?.through) && isKeyframes(part?.keyframes);
}

export interface TableMemos {
  keyframes: StatMemo<Keyframe[]>;
  parts: StatMemo<PartTable>;
}

/**
 * The keyframe tables of sources that videos seek into, each listed once for the engine's
 * lifetime and remembered in the store. A listing is read as ffprobe writes it, so a seek waits
 * only until the table is final up to it; a listing still running when the engine is disposed
 * is stopped, and what it had listed is remembered as a part, so the next run's seeks within it
 * list nothing (a one-off run seeking early into an hour of video would otherwise list it again
 * each time, and never to its end).
 */
export class KeyframeTables {
  private readonly tables = new Map<string, Promise<Keyframe[]>>();
  /** The tables being listed now, by identity, as far as they are listed. */
  private readonly listings = new Map<string, GrowingTable>();
  /** Tables being listed ahead of need, by identity, one at a time. */
  private readonly prefetches = new Map<string, AbortController>();
  private readonly prefetchQueue = pLimit(1);
  /** Listings made beside a probe (see beside), until they end. */
  private readonly besides = new Set<AbortController>();
  /** Listings asked for by a seek, until they end. */
  private readonly seekListings = new Set<AbortController>();
  /** Listings that may be stopped, each until it has ended and what it listed is remembered. */
  private readonly running = new Set<Promise<unknown>>();
  private disposed = false;

  constructor(
    private readonly ffprobe: () => Promise<Located>,
    private readonly memos: () => Promise<TableMemos>,
    private readonly report: Report,
  ) {}

  /**
   * The source's keyframes, for seeks past its start: all of them, or at least those before
   * `through`. A listing that fails is remembered as empty for this engine (its seeks decode from
   * the start), not on disk.
   */
  async keyframes(path: string, identity: string, decodeKeyframes: boolean, through?: Micros): Promise<Keyframe[]> {
    // Needed now: a listing at idle priority would make this wait, so it gives way.
    this.prefetches.get(identity)?.abort();
    // A part another run listed may be far enough; if not, the listing below starts from its look.
    const seen = through !== undefined && !this.tables.has(identity) ? await this.memos().then((m) => m.parts.find(path), () => undefined) : undefined;
    if (seen?.value && seen.value.through >= through!) return seen.value.keyframes;
    // Registered before the table's memo is read: a caller waiting on part of its listing is this one.
    const table = this.tables.has(identity) ? undefined : this.growing(identity);
    const whole = this.once(identity, async () => {
      const memos = await this.memos();
      return memos.keyframes.get(path, async () => {
        // Stopped by dispose, as the listings beside probes are: a seek that needed only part of it is done.
        const controller = new AbortController();
        this.seekListings.add(controller);
        // Disposed while the memo was read: dispose did not see this one.
        if (this.disposed) controller.abort();
        const part = seen ?? (await memos.parts.find(path));
        const options = { decodeKeyframes, signal: controller.signal, onProgress: (l: KeyframeListing) => table?.grew(l) };
        return this.tracked(
          probeKeyframes(await this.ffprobe(), path, options).finally(() => {
            this.seekListings.delete(controller);
            return controller.signal.aborted ? this.rememberPart(memos.parts, part, table) : undefined;
          }),
        );
      });
    });
    void whole.finally(() => table && this.listed(identity, table));
    return through === undefined ? whole : (this.listings.get(identity)?.until(through, whole) ?? whole);
  }

  /**
   * A listing started beside a source's probe, on another core: most sources that videos seek
   * into are H.264 or HEVC, whose seeks take the table, and the listing would otherwise wait for
   * the probe (twelve windows of a 1080p source: 110 ms before the first ffmpeg). Kept, and
   * remembered, when the probe says seeks take a table listed this way; otherwise stopped. At most
   * one per core at a time: many new sources at once list on demand. Returns what settles it.
   */
  beside(path: string, identity: string): ((info: SourceInfo | undefined) => void) | undefined {
    if (this.disposed || this.besides.size >= availableParallelism()) return undefined;
    const controller = new AbortController();
    this.besides.add(controller);
    const table = new GrowingTable();
    let ended = false;
    let kept = false;
    const part = this.memos().then((m) => m.parts.find(path));
    const listing = this.ffprobe().then((ffprobe) => probeKeyframes(ffprobe, path, { decodeKeyframes: true, signal: controller.signal, onProgress: (l) => table.grew(l) }));
    void this.tracked(
      listing
        .catch(() => undefined)
        .finally(async () => {
          ended = true;
          this.besides.delete(controller);
          this.listed(identity, table);
          if (kept && controller.signal.aborted) await this.rememberPart((await this.memos()).parts, await part, table);
        }),
    );
    return (info) => {
      if (info && keyframeListing(info)?.decodeKeyframes && !this.tables.has(identity)) {
        kept = true;
        // A failed listing is remembered as empty for this engine, as `keyframes` does.
        this.tables.set(identity, this.memos().then((m) => m.keyframes.get(path, () => listing)).catch(() => []));
        if (!ended) this.growing(identity, table);
      } else controller.abort();
    };
  }

  /** List a source's keyframes at idle priority, remembered for later seeks; `dispose` stops it. */
  prefetch(path: string, identity: string, decodeKeyframes: boolean): void {
    if (this.disposed || this.tables.has(identity) || this.prefetches.has(identity)) return;
    const controller = new AbortController();
    this.prefetches.set(identity, controller);
    const listing = async () => probeKeyframes(await this.ffprobe(), path, { decodeKeyframes, signal: controller.signal, priority: 19 });
    void this.prefetchQueue(async () => (await this.memos()).keyframes.get(path, listing))
      .catch(() => undefined)
      .finally(() => this.prefetches.delete(identity));
  }

  /** Stop listings made ahead of need (an extraction starts, and should have the cores); they may be asked for again. */
  stopPrefetches(): void {
    for (const controller of this.prefetches.values()) controller.abort();
  }

  /** Stop every listing; resolves once what the stopped ones had listed is remembered. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.stopPrefetches();
    for (const controller of [...this.besides, ...this.seekListings]) controller.abort();
    await Promise.allSettled(this.running);
  }

  /** Where a listing tells its progress to those waiting on part of its table, until it ends. */
  private growing(identity: string, table = new GrowingTable()): GrowingTable {
    this.listings.set(identity, table);
    return table;
  }

  private listed(identity: string, table: GrowingTable): void {
    if (this.listings.get(identity) === table) this.listings.delete(identity);
  }

  /** What a stopped listing had made final, if more than a part already remembered (by another run too). */
  private async rememberPart(parts: StatMemo<PartTable>, look: MemoLook<PartTable>, table: GrowingTable | undefined): Promise<void> {
    const part = table?.part();
    if (!part || !Number.isFinite(part.through) || part.through <= (look.value?.through ?? 0)) return;
    const now = (await parts.find(look.file)).value;
    if (part.through > (now?.through ?? 0)) await parts.remember(look, part);
  }

  private tracked<T>(listing: Promise<T>): Promise<T> {
    this.running.add(listing);
    void listing.catch(() => undefined).finally(() => this.running.delete(listing));
    return listing;
  }

  /** The table for this engine's lifetime; one that cannot be listed is empty (its seeks decode from the start). */
  private once(identity: string, work: () => Promise<Keyframe[]>): Promise<Keyframe[]> {
    let found = this.tables.get(identity);
    if (!found) {
      found = timed(this.report, "probeMs", work).catch(() => []);
      this.tables.set(identity, found);
    }
    return found;
  }
}
