import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { scanComposition, type CompositionScan } from "../core/scan.js";

declare const __VERSION__: string;

/**
 * Bump when what scanComposition returns changes: a record made by other code is then never
 * read. A release changes the key too, through the package version.
 */
const SCHEMA = "scan-1";
const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "dev";

/**
 * Composition scans remembered by the text they scanned, so a warm run parses no HTML (parse5
 * took 100–115 ms of a 380 ms warm run of 200 compositions). Records are V8's structured
 * clones: one element's timing is one object for every part of the scan naming it, as the
 * timeline needs. A scan holding a remote URL is never written, since the URL may carry a
 * token. Reads and writes are synchronous, as the compositions' own reads are (see realPath):
 * each is a small file. Records are not touched on use; gc prunes one by age and the next run
 * scans again.
 */
export class ScanMemo {
  /** Scans computed by this memo, not remembered ones; tests read it. */
  computed = 0;

  /** `dir` undefined remembers nothing (a throwaway store). */
  constructor(readonly dir: string | undefined) {}

  /** The scan of `html`, the text of the composition at `label`: remembered, or scanned now. */
  get(html: string, label: string): CompositionScan {
    const record = this.dir && join(this.dir, `${SCHEMA}-${createHash("sha256").update(`${VERSION}\0${label}\0${html}`).digest("hex").slice(0, 40)}`);
    if (record) {
      const known = readRecord(record);
      if (known?.file === label) return known;
    }
    const value = scanComposition(html, label);
    this.computed++;
    if (record && !value.videos.some((v) => v.url !== undefined)) writeRecord(record, value);
    return value;
  }
}

function readRecord(path: string): CompositionScan | undefined {
  try {
    const value = deserialize(readFileSync(path)) as CompositionScan | undefined;
    return Array.isArray(value?.videos) && Array.isArray(value.named) && value.sites !== undefined ? value : undefined;
  } catch {
    // Missing, torn by a crash mid-write elsewhere, or written by another Node: scanned again.
    return undefined;
  }
}

/** Under a private name, then renamed into place: a reader never sees half a record. A failure only costs the memo. */
function writeRecord(path: string, value: CompositionScan): void {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(temp, serialize(value));
    renameSync(temp, path);
  } catch {
    rmSync(temp, { force: true });
  }
}
