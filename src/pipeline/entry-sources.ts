import type { Task } from "../core/plan.js";
import type { Donor } from "../core/spans.js";
import type { RemoteCache } from "../store/remote/client.js";
import { lookupEntry, type StoredEntry } from "../store/store.js";
import type { Batches } from "./batch.js";
import type { Outcome } from "./results.js";

/** What a source is asked for a task's entry with. */
export interface EntryRequest {
  /** The store the entry must end up in, complete. */
  store: string;
  signal?: AbortSignal;
  /** Frames decoded earlier in this run that an extraction may take instead of decoding them again. */
  shared?: readonly Donor[];
  /** Windows of this run that may share an ffmpeg process (see Batches). */
  batch?: Batches;
  /** The store's donors as this run first read them (see donorSnapshot). */
  donors?: (task: Task) => Promise<Donor[]>;
}

/**
 * Where a task's entry can come from: the local store, the shared cache, extraction. The producer asks each in order; the first that answers wins.
 */
export interface EntrySource {
  readonly name: string;
  /** The complete entry, published in `request.store`; undefined when this source has none. */
  get(task: Task, request: EntryRequest): Promise<Outcome | undefined>;
  /** Told of an entry that a later source made (the shared cache uploads it). */
  put?(task: Task, entry: StoredEntry): void;
}

/** The local store: an entry whose sentinel vouches for the full key and whose frames are there. */
export const localEntries: EntrySource = {
  name: "local",
  async get(task, { store }) {
    const entry = await lookupEntry(store, task);
    return entry && { entry, cache: "hit" };
  },
};

/** The Turborepo-compatible shared cache: downloads into the store, uploads what was extracted. */
export function remoteEntries(remote: RemoteCache): EntrySource {
  return {
    name: "remote",
    async get(task, { store, signal }) {
      const entry = await remote.fetch(task, store, signal);
      return entry && { entry, cache: "remote-hit" };
    },
    put: (task, entry) => remote.upload(task, entry),
  };
}

/**
 * `source` (extraction) once the task's bytes are on disk: a remote source resolved from the
 * shared cache's record was not downloaded, in the hope that its frames were there too.
 */
export function withSourceBytes(source: EntrySource, materialize: (path: string, signal?: AbortSignal) => Promise<void>): EntrySource {
  return {
    name: source.name,
    async get(task, request) {
      await materialize(task.source, request.signal);
      return source.get(task, request);
    },
  };
}
