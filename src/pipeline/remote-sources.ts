import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { FramecacheError } from "../core/errors.js";
import { formatBytes, formatDuration } from "../core/format.js";
import type { Logger } from "../core/logger.js";
import type { Report } from "../core/report.js";
import type { SourceInfo } from "../core/plan.js";
import type { ResolvedRemoteSources } from "../core/remote-source-options.js";
import { downloadId, hostAllowed, redactUrl, sourceRecordKey, sourceUrl, strongValidator } from "../core/remote-url.js";
import {
  downloadFile, downloadsDir, hasBytes, openDownloads, partialPath, readRecord, recordPath, touchRecord, validatorsOf, writeRecord, type DownloadRecord,
} from "../store/downloads/records.js";
import { downloadSource, headSource, type TransferOptions } from "../store/downloads/transfer.js";
import { tryLock, waitForLock } from "../store/lock.js";


/** Revalidation failures after which the copy still stands for the URL. */
const KEEP_COPY_ON = new Set(["FC_DOWNLOAD_FAILED", "FC_DOWNLOAD_TIMEOUT", "FC_DOWNLOAD_TLS", "FC_DOWNLOAD_DENIED"]);
/** A remote source as the planner sees it: a file in the store (perhaps not downloaded yet), its digest and size. */
export interface RemoteFile {
  path: string;
  digest: string;
  size: number;
  /** The probe the shared cache holds for these bytes, when they were not downloaded here. */
  info?: SourceInfo;
  /** True when this process downloaded the bytes: their record is worth sharing. */
  downloaded: boolean;
}

/** Shared-cache records of (URL, validator) → bytes, which let another machine skip the download. */
export interface SourceRecords {
  get(key: string): Promise<SharedRecord | undefined>;
  put(key: string, record: SharedRecord): Promise<void>;
}

export interface SharedRecord {
  digest: string;
  size: number;
  info: SourceInfo;
}

/** Downloads show a line once they have taken this long. */
const SLOW_MS = 2000;

/**
 * `http(s)` sources (DESIGN §6.2): downloaded once into the store's `downloads/`, under a per-URL
 * lock shared with other processes, revalidated at most once per URL and run (none within
 * `freshFor`), and resolved from the shared cache's record when this machine never needs the
 * bytes. Every message names the URL redacted.
 */
export class RemoteSources {
  private readonly resolving = new Map<string, Promise<RemoteFile>>();
  /** Store paths of sources whose bytes are not here yet, with the URL that has them. */
  private readonly absent = new Map<string, { url: string; record: DownloadRecord }>();
  /** Downloads this process made, by id: their records are worth sharing. */
  private readonly downloadedHere = new Set<string>();

  constructor(
    private readonly options: ResolvedRemoteSources,
    private readonly store: () => Promise<string>,
    private readonly logger: Logger,
    private readonly report: Report,
    private readonly shared?: SourceRecords,
  ) {}

  /** Forget what this process learned: the next `resolve` of each URL may ask its server again (a new build, a dev poll). */
  refresh(): void {
    this.resolving.clear();
  }

  /**
   * The store file standing for `url`, downloaded or revalidated as needed, once per URL until
   * `refresh`. A copy checked within `freshForMs` (the option's, unless given) is taken as it is.
   */
  resolve(url: string, freshForMs = this.options.freshForMs): Promise<RemoteFile> {
    let found = this.resolving.get(url);
    if (!found) {
      found = this.locate(url, freshForMs);
      this.resolving.set(url, found);
      found.catch(() => this.resolving.delete(url));
    }
    return found;
  }

  /** Bring the bytes of a source resolved from the shared cache onto disk: its frames were not there after all. */
  async materialize(path: string, signal?: AbortSignal): Promise<void> {
    const pending = this.absent.get(path);
    if (!pending) return;
    const store = await this.store();
    const file = await this.underLock(store, pending.record.id, async (record) => {
      if (record?.local && (await hasBytes(store, record))) return record;
      return this.download(store, pending.url, undefined, signal);
    });
    if (file.digest !== pending.record.digest) {
      throw new FramecacheError("FC_DOWNLOAD_FAILED", "the file changed on the server during the build (its digest differs from the shared cache's record)", {
        hint: "Run the build again.",
      });
    }
    this.absent.delete(path);
  }

  /** Drop a URL's download (ffprobe refused it): the next run downloads it again. */
  async discard(url: string): Promise<void> {
    const store = await this.store();
    const id = downloadId(normalized(url));
    this.resolving.delete(url);
    await this.underLock(store, id, async (record) => {
      await rm(recordPath(store, id), { force: true });
      if (record) await rm(join(downloadsDir(store), record.file), { force: true });
    });
  }

  /** Publish what this process learned about a URL it downloaded, for other machines. */
  async share(url: string, file: RemoteFile, info: SourceInfo): Promise<void> {
    if (!this.shared || !file.downloaded) return;
    const href = normalized(url);
    const record = await readRecord(await this.store(), downloadId(href));
    const validator = record && strongValidator(validatorsOf(record));
    if (!validator || record.digest !== file.digest) return;
    await this.shared.put(sourceRecordKey(href, validator), { digest: file.digest, size: file.size, info }).catch(() => undefined);
  }

  private async locate(url: string, freshForMs: number): Promise<RemoteFile> {
    const parsed = sourceUrl(url);
    if (!parsed) throw new FramecacheError("FC_DOWNLOAD_FAILED", "the src is not a well-formed URL", { hint: "Fix the URL in src." });
    if (!hostAllowed(parsed.hostname, this.options.allow)) {
      throw new FramecacheError("FC_REMOTE_NOT_ALLOWED", `the host ${parsed.hostname} is not in remoteSources.allow`, {
        hint: `Add "${parsed.hostname}" (or a glob matching it) to remoteSources.allow, or download the file into the project.`,
      });
    }
    const href = parsed.href;
    const store = await this.store();
    const id = downloadId(href);
    const usable = async (r: DownloadRecord | undefined) => r !== undefined && (r.local ? await hasBytes(store, r) : this.shared !== undefined);
    const fresh = async (r: DownloadRecord | undefined) => (await usable(r)) && Date.now() - Date.parse(r!.checked) < freshForMs;
    const before = await readRecord(store, id);
    if (await fresh(before)) return this.fileOf(store, href, before!);
    const record = await this.underLock(store, id, async (current) => {
      if (await fresh(current)) return current!;
      if (current?.local && (await usable(current))) return this.revalidate(store, href, current);
      return (await this.fromShared(store, href, id)) ?? this.download(store, href);
    });
    return this.fileOf(store, href, record);
  }

  private async fileOf(store: string, url: string, record: DownloadRecord): Promise<RemoteFile> {
    await touchRecord(store, record.id);
    const path = join(downloadsDir(store), record.file);
    if (!record.local) this.absent.set(path, { url, record });
    return { path, digest: record.digest, size: record.size, info: record.local ? undefined : record.info, downloaded: this.downloadedHere.has(record.id) };
  }

  /**
   * One conditional request: a 304 keeps the copy, a 200 replaces it. Offline, or refused (a signed
   * URL that has expired since its copy was made), the copy is used with a warning; a URL that is
   * gone (404, 410) fails, since the page points at nothing now.
   */
  private async revalidate(store: string, url: string, record: DownloadRecord): Promise<DownloadRecord> {
    try {
      return await this.download(store, url, record);
    } catch (error) {
      if (!(error instanceof FramecacheError) || !KEEP_COPY_ON.has(error.code)) throw error;
      const refused = error.code === "FC_DOWNLOAD_DENIED" ? "; a signed URL may have expired: sign it again to check for changes" : "";
      this.logger.warn(`framecache: ${redactUrl(url)} could not be revalidated (${error.detail}); using the copy downloaded ${record.checked}${refused}`);
      return record;
    }
  }

  /** The digest of the URL's bytes from the shared cache, found by a `HEAD` and the URL's strong validator. */
  private async fromShared(store: string, url: string, id: string): Promise<DownloadRecord | undefined> {
    if (!this.shared) return undefined;
    const head = await headSource(url, this.transfer()).catch(() => undefined);
    const validator = head && strongValidator(head.validators);
    if (!head || !validator) return undefined;
    const shared = await this.shared.get(sourceRecordKey(url, validator)).catch(() => undefined);
    if (!shared || (head.validators.size > 0 && head.validators.size !== shared.size)) return undefined;
    const parsed = new URL(url);
    const record: DownloadRecord = {
      version: 1, id, url: redactUrl(url), finalUrl: redactUrl(head.finalUrl), file: downloadFile(id, shared.digest, parsed),
      etag: head.validators.etag, lastModified: head.validators.lastModified, size: shared.size, digest: shared.digest,
      checked: new Date().toISOString(), local: false, info: shared.info,
    };
    await writeRecord(store, record);
    return record;
  }

  /** GET into a partial and rename into place; with `known`, conditional (a 304 only renews the record). */
  private async download(store: string, url: string, known?: DownloadRecord, signal?: AbortSignal): Promise<DownloadRecord> {
    const id = downloadId(url);
    const partial = await partialPath(store, id);
    const started = Date.now();
    const slow = setTimeout(() => this.logger.info(`framecache: downloading ${redactUrl(url)}…`), SLOW_MS);
    try {
      const result = await downloadSource(url, partial, { ...this.transfer(signal), known: known && validatorsOf(known) });
      const checked = new Date().toISOString();
      if (result.status === "not-modified") {
        const renewed = { ...known!, checked };
        await writeRecord(store, renewed);
        return renewed;
      }
      const file = downloadFile(id, result.digest, new URL(url));
      const record: DownloadRecord = {
        version: 1, id, url: redactUrl(url), finalUrl: redactUrl(result.finalUrl), file,
        etag: result.validators.etag, lastModified: result.validators.lastModified, size: result.size, digest: result.digest, checked, local: true,
      };
      await rename(partial, join(downloadsDir(store), file));
      await writeRecord(store, record);
      // The bytes this replaces: a task that names them and has not started fails to open them (never reads others).
      if (known && known.file !== file) await rm(join(downloadsDir(store), known.file), { force: true });
      this.downloadedHere.add(id);
      this.report.sourceDownloads++;
      this.report.sourceBytesDown += result.size;
      if (Date.now() - started >= SLOW_MS) this.logger.info(`framecache: downloaded ${redactUrl(url)} (${formatBytes(result.size)}) in ${formatDuration(Date.now() - started)}`);
      return record;
    } finally {
      clearTimeout(slow);
      await rm(partial, { force: true });
    }
  }

  /** Run `work` holding the URL's lock, given the record as it is once the lock is held; waits for another holder first. */
  private async underLock<T>(store: string, id: string, work: (record: DownloadRecord | undefined) => Promise<T>): Promise<T> {
    const dir = downloadsDir(store);
    for (;;) {
      await openDownloads(store);
      const lock = await tryLock(dir, id);
      if (lock) {
        try {
          return await work(await readRecord(store, id));
        } finally {
          await lock.release();
        }
      }
      await waitForLock(dir, id);
    }
  }

  private transfer(signal?: AbortSignal): TransferOptions {
    const o = this.options;
    return { headers: o.headers, maxBytes: o.maxBytes, timeoutMs: o.timeoutMs, signal, allowHost: (host) => hostAllowed(host, o.allow) };
  }
}

/** The URL as requested: protocol-relative made https, host lower-cased; downloads and records go by it. */
function normalized(url: string): string {
  return sourceUrl(url)?.href ?? url;
}
