import type { SourceInfo } from "../core/plan.js";
import type { RemoteCache } from "../store/remote/client.js";
import type { SharedRecord, SourceRecords } from "./remote-sources.js";

/** A digest record is a few hundred bytes; anything much larger under its name is not one. */
const MAX_RECORD_BYTES = 64 * 1024;

/** Remote sources' digest records, kept in the shared cache beside the entries as small JSON artifacts. */
export function sharedSourceRecords(remote: RemoteCache): SourceRecords {
  return {
    async get(key) {
      const bytes = await remote.getBlob(key, MAX_RECORD_BYTES);
      if (!bytes) return undefined;
      try {
        const record = JSON.parse(bytes.toString("utf8")) as Partial<SharedRecord> & { framecacheSource?: number };
        const valid = record.framecacheSource === 1 && /^[0-9a-f]{64}$/.test(record.digest ?? "") && Number.isSafeInteger(record.size) && isInfo(record.info);
        return valid ? { digest: record.digest!, size: record.size!, info: record.info! } : undefined;
      } catch {
        return undefined;
      }
    },
    async put(key, record) {
      remote.putBlob(key, Buffer.from(JSON.stringify({ framecacheSource: 1, ...record })));
    },
  };
}

function isInfo(value: unknown): value is SourceInfo {
  const info = value as SourceInfo | undefined;
  return typeof info?.duration === "number" && typeof info.width === "number" && typeof info.seekable === "boolean";
}
