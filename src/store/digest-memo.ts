import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { digestFile } from "../media/digest.js";

/** The memo's folder inside the store; its name cannot be mistaken for an entry. */
export const DIGEST_MEMO_DIR = ".digests";

/**
 * A modification within this long of a look might share the mtime it saw
 * (coarse-mtime filesystems), so what it found is not remembered across runs.
 */
const RACY_MS = 2000;

/**
 * What a slow look at a file yielded (its sha256, ffprobe's answer about a source,
 * `ffmpeg -version`'s about the binary), remembered on disk by the file's (device, inode,
 * size, mtime), so an unchanged file is looked at once, not once per process, and a warm
 * run spawns nothing. One small file per record, written under a private name and renamed
 * into place, so concurrent processes never see half a record and never lose each other's.
 * `kind` names the record and carries a schema number: a change to what a look yields bumps it.
 */
export class StatMemo<T> {
  /** Looks taken by this memo, not remembered ones; tests and debugging read it. */
  computed = 0;

  constructor(
    readonly dir: string | undefined,
    readonly kind: string,
    private readonly valid: (value: unknown) => value is T,
  ) {}

  async get(file: string, work: () => Promise<T>): Promise<T> {
    // A file that cannot be stat'ed is not remembered; `work` says what is wrong with it.
    const found = await this.find(file);
    if (found.value !== undefined) return found.value;
    const value = await work();
    this.computed++;
    await this.remember(found, value);
    return value;
  }

  /** What is remembered of the file as it is now, and where a look started now would be remembered. */
  async find(file: string): Promise<MemoLook<T>> {
    const look: MemoLook<T> = { file, startedMs: Date.now() };
    const before = await stat(file, { bigint: true }).catch(() => undefined);
    if (!before || !this.dir) return look;
    look.record = this.recordOf(before);
    const known = (await readJson<{ value?: unknown }>(look.record))?.value;
    if (this.valid(known)) look.value = known;
    return look;
  }

  private recordOf(st: Parameters<typeof recordName>[0]): string {
    return join(this.dir!, `${this.kind}-${recordName(st)}`);
  }

  /** Remember what a look found, unless the file changed since it started or might have then. */
  async remember(look: MemoLook<T>, value: T): Promise<void> {
    if (!look.record) return;
    const after = await stat(look.file, { bigint: true }).catch(() => undefined);
    const settled = after && this.recordOf(after) === look.record && look.startedMs - Number(after.mtimeMs) > RACY_MS;
    if (settled) await writeJson(look.record, { value, file: look.file }).catch(() => undefined);
  }
}

/** A look at a file through a StatMemo: `record` is undefined when nothing may be remembered. */
export interface MemoLook<T> {
  file: string;
  startedMs: number;
  record?: string;
  value?: T;
}

/** Content digests (sha256 hex) of source files: a file is hashed once, not once per process. */
export class DigestMemo extends StatMemo<string> {
  constructor(dir: string | undefined) {
    super(dir, "sha256", (value): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value));
  }

  /** Files hashed by this memo, not remembered; tests and debugging read it. */
  get hashed(): number {
    return this.computed;
  }

  digest(file: string, signal?: AbortSignal): Promise<string> {
    return this.get(file, () => digestFile(file, signal));
  }
}

function recordName(st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `${st.dev}-${st.ino}-${st.size}-${st.mtimeNs}`;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as T;
    // Its mtime says when it was last useful, for pruning.
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
    return value;
  } catch {
    return undefined;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(temp, JSON.stringify(value) + "\n");
  await rename(temp, path).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}

/** Remove memo records not used for `maxAgeMs`; returns how many went. */
export async function pruneDigestMemo(storeDir: string, maxAgeMs: number, now = Date.now(), dryRun = false): Promise<number> {
  const dir = join(storeDir, DIGEST_MEMO_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st || now - st.mtimeMs <= maxAgeMs) continue;
    if (!dryRun) await rm(path, { force: true });
    removed++;
  }
  return removed;
}
