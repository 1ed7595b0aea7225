import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFramecacheError } from "../src/core/errors.js";
import { silentLogger } from "../src/core/logger.js";
import { resolveOptions } from "../src/core/options.js";
import type { Task } from "../src/core/plan.js";
import { emptyReport } from "../src/core/report.js";
import { scanComposition } from "../src/core/scan.js";
import { Engine } from "../src/pipeline/engine.js";
import { localEntries, remoteEntries, type EntrySource } from "../src/pipeline/entry-sources.js";
import { extraction } from "../src/pipeline/extraction.js";
import { SourceFacts } from "../src/pipeline/sources.js";
import { ExtractionStrategy } from "../src/pipeline/strategy.js";
import { openRemote, type RemoteCache } from "../src/store/remote/client.js";
import { lookupEntry, openStore } from "../src/store/store.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { startRemoteServer, type RemoteServer } from "./helpers/remote-server.js";

/**
 * One contract for every place an entry can come from, run against each of them, as
 * unstorage tests its drivers: what it answers is complete and in the store, what it does
 * not hold it does not invent, and an aborted request leaves nothing half-written.
 */
interface Driver {
  source: EntrySource;
  /** Make the source hold `task`'s entry, as a previous run would have. */
  seed(task: Task): Promise<void>;
  /** True when the source makes any entry it is asked for (extraction), rather than holding some. */
  makes: boolean;
  /** Wait for what `put` sent. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

let dir: string;
let cleanup: () => void;
let server: RemoteServer;
let tasks: { first: Task; later: Task };
let planner: Engine;

/** A task for seconds [start, start + 0.5) of the coded source. */
async function taskAt(start: number): Promise<Task> {
  const html = `<div data-composition-id="main"><video id="v" src="clip.mp4" data-media-start="${start}" data-duration="0.5"></video></div>`;
  const ref = scanComposition(html, "index.html").videos[0]!;
  return (await planner.planFile(join(dir, "clip.mp4"), ref, { num: 30, den: 1 })).task;
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("framecache-sources-"));
  makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
  server = await startRemoteServer(dir);
  planner = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "planner-cache") }), logger: silentLogger });
  tasks = { first: await taskAt(0), later: await taskAt(1) };
});
afterAll(async () => {
  await planner?.dispose();
  await server?.stop();
  cleanup?.();
});

let stores = 0;
async function freshStore(): Promise<string> {
  const store = join(dir, `store-${stores++}`);
  await openStore(store);
  return store;
}

function extractor(store: string): EntrySource {
  const report = emptyReport();
  const facts = new SourceFacts({}, async () => store, report);
  const binaries = () => facts.binaries();
  const strategy = new ExtractionStrategy({ binaries, keyframes: (t) => facts.keyframesOf(t), timeout: undefined, concurrency: 1, logger: silentLogger });
  return extraction({ binaries, strategy, slots: pLimit(1), report });
}

const drivers: Record<string, (store: string) => Promise<Driver>> = {
  async local(store) {
    const make = extractor(store);
    return { source: localEntries, makes: false, seed: async (task) => void (await make.get(task, { store })), flush: async () => {}, close: async () => {} };
  },
  async remote() {
    const team = `team-${stores}`;
    const options = resolveOptions({ remote: { url: server.url, token: server.token, team } });
    const remote = openRemote(options, silentLogger, emptyReport()) as RemoteCache;
    // Filled from another machine's store: the one under test starts empty.
    const elsewhere = await freshStore();
    const make = extractor(elsewhere);
    return {
      source: remoteEntries(remote),
      makes: false,
      seed: async (task) => {
        const made = await make.get(task, { store: elsewhere });
        remote.upload(task, made!.entry);
        await remote.flush();
      },
      flush: () => remote.flush(),
      close: () => remote.close(),
    };
  },
  async extraction(store) {
    return { source: extractor(store), makes: true, seed: async () => {}, flush: async () => {}, close: async () => {} };
  },
};

function partials(store: string): string[] {
  return readdirSync(store).filter((name) => name.includes(".partial-") || name.includes(".lock"));
}

describe.each(Object.keys(drivers))("entry source: %s", (name) => {
  let store: string;
  let driver: Driver;
  beforeAll(async () => {
    store = await freshStore();
    driver = await drivers[name]!(store);
    await driver.seed(tasks.first);
  });
  afterAll(() => driver?.close());

  it("answers with the complete entry, published in the store under the task's name, frame for frame", async () => {
    const task = tasks.first;
    const found = await driver.source.get(task, { store });
    expect(found).toBeDefined();
    expect(found!.entry.name).toBe(task.entry);
    expect(found!.entry.dir).toBe(join(store, task.entry));
    expect(found!.entry.frames).toBe(task.frameCount);
    expect((await lookupEntry(store, task))?.dir).toBe(found!.entry.dir);
    expect(readFrameNumbers(found!.entry.dir)).toEqual(range(0, 15));
  });

  it("does not pass off another task's entry: it has none, or makes the task's own frames", async () => {
    const task = tasks.later;
    const found = await driver.source.get(task, { store });
    if (!driver.makes) return expect(found).toBeUndefined();
    expect(found?.cache).toBe("miss");
    expect(readFrameNumbers(found!.entry.dir)).toEqual(range(30, 15));
  });

  it("answers, to a store that never had it, an entry it was told of with put (when it takes them)", async (ctx) => {
    if (!driver.source.put) return ctx.skip();
    const task = await taskAt(0.3);
    const made = await extractor(store).get(task, { store });
    driver.source.put(task, made!.entry);
    await driver.flush();
    const other = await freshStore();
    const found = await driver.source.get(task, { store: other });
    expect(found?.entry.dir).toBe(join(other, task.entry));
    expect(readFrameNumbers(found!.entry.dir)).toEqual(range(9, 15));
  });

  it("leaves no partial entry or lock behind when the request is aborted", async () => {
    const task = await taskAt(1.5);
    await driver.seed(task);
    const controller = new AbortController();
    controller.abort();
    const found = await driver.source.get(task, { store, signal: controller.signal }).catch((error: unknown) => {
      if (!isFramecacheError(error, "FC_CANCELLED")) throw error;
      return undefined;
    });
    expect(partials(store)).toEqual([]);
    if (found) expect(readFrameNumbers(found.entry.dir)).toEqual(range(45, 15));
    else expect(existsSync(join(store, task.entry))).toBe(false);
  });
});
