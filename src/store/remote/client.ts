import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import pLimit from "p-limit";
import type { ResolvedOptions, ResolvedRemoteOptions } from "../../core/options.js";
import type { Task } from "../../core/plan.js";
import type { Logger } from "../../core/logger.js";
import { publishEntry, type StoredEntry } from "../store.js";
import { artifactFiles, BadArtifact, BadSignature, packedSize, packEntry, unpackArtifact, verifyArtifact } from "./artifact.js";
import { artifactUrl, Endpoint, errorText, TransportError } from "./http.js";
import { cutMidUpload, isNetworkError, networkCode, StatusError, tooLarge, UploadCut } from "./failures.js";
import { ArtifactSigner, TAG_HEADER } from "./signature.js";

export const DEFAULT_REMOTE_TIMEOUT_MS = 30_000;
/** Transfers at once: enough to hide latency, few enough not to starve ffmpeg of bandwidth or disk. */
const TRANSFERS = 4;
/** After a dead server or a timeout, stay local this long before trying again (a dev server lives for hours). */
const COOL_OFF_MS = 60_000;

export interface RemoteCounters {
  remoteBytesDown: number;
  remoteBytesUp: number;
}

export interface RemoteCacheConfig extends ResolvedRemoteOptions {
  /** Cap on one artifact, download or upload; the store's budget is a natural one. */
  maxArtifactBytes: number;
}

/**
 * The shared cache, spoken over the Turborepo remote cache API
 * (`/v8/artifacts/<key>`). Local store first, then this, then ffmpeg: `fetch`
 * brings an entry down into the store, verified; `upload` sends one up in the
 * background. Nothing here ever fails a build: a refused token, a dead server,
 * a timeout or a bad artifact is a warning and a miss.
 */
export class RemoteCache {
  private readonly endpoint: Endpoint;
  private readonly limit = pLimit(TRANSFERS);
  private readonly pending = new Set<Promise<void>>();
  /** Keys whose remote artifact was rejected: the upload replaces it without asking. */
  private readonly rejected = new Set<string>();
  private offUntil = 0;
  private uploadsOff: boolean;

  constructor(
    readonly config: RemoteCacheConfig,
    private readonly logger: Logger,
    private readonly counters: RemoteCounters,
  ) {
    this.endpoint = new Endpoint({
      url: config.url,
      token: config.token,
      timeoutMs: config.timeout ?? DEFAULT_REMOTE_TIMEOUT_MS,
      maxSockets: TRANSFERS,
    });
    this.uploadsOff = config.readOnly === true;
  }

  /** Only content keys mean the same thing on another machine; a path+mtime key is never shared. */
  static shares(task: Task): boolean {
    return task.input.p.startsWith("sha256:");
  }

  /** Download, verify and publish the task's entry into the store; undefined on a miss of any kind. */
  async fetch(task: Task, storeDir: string, signal?: AbortSignal): Promise<StoredEntry | undefined> {
    if (!RemoteCache.shares(task) || !this.available()) return undefined;
    return this.limit(async () => {
      if (!this.available()) return undefined;
      let res: IncomingMessage | undefined;
      try {
        res = await this.endpoint.send("GET", this.artifactUrl(task.key), { signal });
        if (res.statusCode === 404) {
          res.resume();
          return undefined;
        }
        if (res.statusCode !== 200) throw new StatusError(res.statusCode ?? 0, "GET", await errorText(res));
        const length = Number(res.headers["content-length"]);
        if (length > this.config.maxArtifactBytes) {
          res.destroy();
          throw new BadArtifact(`it is larger than ${this.config.maxArtifactBytes} bytes`);
        }
        const signer = this.signer(task.key);
        const tag = res.headers[TAG_HEADER];
        if (signer && typeof tag !== "string") throw new BadSignature("it carries no signature");
        const body = signer ? signedBytes(res, signer) : res;
        // Inside the publish callback: a refused artifact's partial is removed, never published.
        return await publishEntry(storeDir, task, async (partial) => {
          await unpackArtifact(body, partial, { frames: task.frameCount, format: task.format, maxBytes: this.config.maxArtifactBytes }, (n) => {
            this.counters.remoteBytesDown += n;
          });
          if (signer && !signer.matches(tag as string)) throw new BadSignature("its signature does not match the key");
          await verifyArtifact(partial, task);
        });
      } catch (error) {
        res?.destroy();
        if (error instanceof BadSignature) {
          this.rejected.add(task.key);
          this.unsigned(`${task.entry} ${error.message}`);
        } else if (error instanceof BadArtifact) {
          this.rejected.add(task.key);
          this.logger.warn(`framecache: remote artifact for ${task.entry} was rejected: ${error.message}; extracting it locally`);
        } else {
          this.failed(error);
        }
        return undefined;
      }
    });
  }

  /**
   * A small artifact that is not an entry (a remote source's digest record), whole in memory;
   * undefined on a miss or any failure, as for entries.
   */
  async getBlob(hash: string, maxBytes: number): Promise<Buffer | undefined> {
    if (!this.available()) return undefined;
    return this.limit(async () => {
      try {
        const res = await this.endpoint.send("GET", this.artifactUrl(hash));
        if (res.statusCode === 404) return void res.resume();
        if (res.statusCode !== 200) throw new StatusError(res.statusCode ?? 0, "GET", await errorText(res));
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) return void res.destroy();
          chunks.push(chunk);
        }
        this.counters.remoteBytesDown += size;
        const bytes = Buffer.concat(chunks);
        const signer = this.signer(hash);
        if (signer) {
          signer.update(bytes);
          const tag = res.headers[TAG_HEADER];
          if (typeof tag !== "string" || !signer.matches(tag)) return void this.unsigned(`record ${hash.slice(0, 16)} ${typeof tag === "string" ? "has a signature that does not match the key" : "carries no signature"}`);
        }
        return bytes;
      } catch (error) {
        this.failed(error);
        return undefined;
      }
    });
  }

  /** Upload a small artifact in the background, like an entry; `flush` waits for it. */
  putBlob(hash: string, bytes: Buffer): void {
    if (this.uploadsOff || !this.available()) return;
    const job = this.limit(async () => {
      const signer = this.signer(hash);
      signer?.update(bytes);
      const headers = { "content-type": "application/octet-stream", ...(signer ? { [TAG_HEADER]: signer.tag() } : {}) };
      const res = await this.endpoint.send("PUT", this.artifactUrl(hash), { headers, body: () => Readable.from([bytes]), length: bytes.length });
      if (res.statusCode !== 200 && res.statusCode !== 201 && res.statusCode !== 202) throw new StatusError(res.statusCode ?? 0, "PUT", await errorText(res));
      res.resume();
      this.counters.remoteBytesUp += bytes.length;
    }).catch((error: unknown) => this.failed(error));
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
  }

  /** Upload a freshly extracted entry in the background; `flush` waits for it. */
  upload(task: Task, entry: StoredEntry): void {
    if (!RemoteCache.shares(task) || this.uploadsOff || !this.available()) return;
    const job = this.limit(() => this.put(task, entry)).catch((error: unknown) => this.failed(error));
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
  }

  /** Wait for uploads in flight. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.endpoint.close();
  }

  private async put(task: Task, entry: StoredEntry): Promise<void> {
    if (this.uploadsOff || !this.available()) return;
    const url = this.artifactUrl(task.key);
    // Another job (a shard, a teammate) may have sent it while we extracted; a rejected one is replaced.
    if (!this.rejected.has(task.key)) {
      const head = await this.endpoint.send("HEAD", url);
      head.resume();
      if (head.statusCode === 200) return;
      if (head.statusCode !== 404) throw new StatusError(head.statusCode ?? 0, "HEAD", "");
    }
    const files = artifactFiles(entry);
    const signer = this.signer(task.key);
    const length = await packedSize(entry.dir, files, signer && ((chunk) => signer.update(chunk)));
    if (length > this.config.maxArtifactBytes) return;
    const headers = { "content-type": "application/octet-stream", ...(signer ? { [TAG_HEADER]: signer.tag() } : {}) };
    const res = await this.endpoint
      .send("PUT", url, { headers, body: () => packEntry(entry.dir, files), length })
      .catch((error: unknown) => {
        throw cutMidUpload(error) ? new UploadCut() : error;
      });
    if (res.statusCode !== 200 && res.statusCode !== 201 && res.statusCode !== 202) {
      throw new StatusError(res.statusCode ?? 0, "PUT", await errorText(res));
    }
    res.resume();
    this.rejected.delete(task.key);
    this.counters.remoteBytesUp += length;
  }

  private artifactUrl(key: string): URL {
    return artifactUrl(this.config.url, key, this.config.team);
  }

  private readonly said = new Set<string>();
  private warnedUnsigned = false;

  /** A fresh signer for one artifact when signing is on; the key never leaves it. */
  private signer(hash: string): ArtifactSigner | undefined {
    const key = this.config.signature?.key;
    return key ? new ArtifactSigner(key, hash, this.config.team) : undefined;
  }

  /** One warning for the client's lifetime, naming the first refusal: every later one is the same cause. */
  private unsigned(first: string): void {
    if (this.warnedUnsigned) return;
    this.warnedUnsigned = true;
    this.logger.warn(
      `framecache: remote cache ${this.endpoint.origin} sent artifacts without a valid signature (first: ${first}); ` +
        "they are extracted locally and uploaded again signed. Check that every writer uses the same signature key " +
        "(remote.signature, FRAMECACHE_REMOTE_SIGNATURE_KEY or TURBO_REMOTE_CACHE_SIGNATURE_KEY) and that the server keeps " +
        "tags (turborepo-remote-cache keeps them only with TURBO_REMOTE_CACHE_SIGNATURE_KEY set)",
    );
  }

  private available(): boolean {
    return Date.now() >= this.offUntil;
  }

  /**
   * One warning per cause for the client's lifetime: requests already in flight when
   * the remote fails are the same event, not repeats worth counting.
   */
  private say(message: string): void {
    if (this.said.has(message)) return;
    this.said.add(message);
    this.logger.warn(message);
  }

  private failed(error: unknown): void {
    const remote = `framecache: remote cache ${this.endpoint.origin}`;
    const local = "using the local cache only";
    if (error instanceof StatusError) {
      const { status, detail } = error;
      const why = detail ? `: ${detail}` : "";
      if (status === 413) {
        this.say(tooLarge(remote));
      } else if (status === 403 && error.method === "PUT") {
        this.uploadsOff = true;
        this.say(`${remote} refused an upload (HTTP 403${why}); downloading only`);
      } else if (status === 401 || status === 403) {
        this.offUntil = Infinity;
        this.say(`${remote} refused the token (HTTP ${status}${why}); check remote.token or FRAMECACHE_REMOTE_TOKEN; ${local}`);
      } else {
        this.offUntil = Date.now() + COOL_OFF_MS;
        this.say(`${remote} answered HTTP ${status}${why}; ${local}`);
      }
    } else if (error instanceof UploadCut) {
      this.say(tooLarge(remote));
    } else if (error instanceof TransportError || isNetworkError(error)) {
      this.offUntil = Date.now() + COOL_OFF_MS;
      const what = error instanceof TransportError && error.kind === "timeout" ? `gave ${error.message}` : `is unreachable (${networkCode(error)})`;
      this.say(`${remote} ${what}; ${local}`);
    } else if ((error as Error)?.name !== "AbortError") {
      this.say(`${remote}: ${(error as Error)?.message ?? String(error)}`);
    }
  }
}

/** The body as it arrives, each chunk fed to the signer first. */
async function* signedBytes(source: AsyncIterable<Buffer>, signer: ArtifactSigner): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    signer.update(chunk);
    yield chunk;
  }
}

/** The remote cache the options ask for, or undefined (not configured, or useless with stat keys). */
export function openRemote(options: ResolvedOptions, logger: Logger, counters: RemoteCounters): RemoteCache | undefined {
  if (!options.remote) return undefined;
  if (options.key !== "content") {
    logger.warn('framecache: the remote cache shares only key:"content" entries (a path and mtime mean nothing on another machine); it is not used with key:"stat"');
    return undefined;
  }
  return new RemoteCache({ ...options.remote, maxArtifactBytes: options.maxCacheSize }, logger, counters);
}
