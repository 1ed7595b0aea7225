import type { KeyInput } from "./key.js";

/** An existing entry, as far as explaining a miss needs it. */
export interface KnownEntry {
  name: string;
  input: KeyInput;
  /** Absolute source path at extraction time, when the sentinel recorded it. */
  source?: string;
  /** Sentinel mtime: the newest entry wins a tie. */
  lastUsed: number;
}

export interface MissExplanation {
  /** The entry that differs in the fewest key fields, if any entry of this source exists. */
  nearest?: string;
  /** One phrase per differing field, e.g. `duration 8 → 9`. */
  changes: string[];
}

const CONTENT = "sha256:";

/**
 * Why a key missed: the key fields that differ from the nearest entry made from the
 * same source (same path, or same content after a move). Pure, so it is easy to test.
 */
export function explainMiss(wanted: KeyInput, source: string, known: KnownEntry[]): MissExplanation {
  const sameSource = known.filter((k) => k.source === source || k.input.p === wanted.p);
  let best: { entry: KnownEntry; changes: string[] } | undefined;
  for (const entry of sameSource) {
    const changes = keyChanges(entry.input, wanted);
    if (
      !best ||
      changes.length < best.changes.length ||
      (changes.length === best.changes.length && entry.lastUsed > best.entry.lastUsed)
    ) {
      best = { entry, changes };
    }
  }
  if (!best) return { changes: ["no entry for this source yet"] };
  // Every field equal means the same key: the entry exists but failed its checks.
  return { nearest: best.entry.name, changes: best.changes.length ? best.changes : ["entry exists but is incomplete or damaged"] };
}

/** Phrases for the fields in which `after` differs from `before`. */
export function keyChanges(before: KeyInput, after: KeyInput): string[] {
  const changes: string[] = [];
  const beforeContent = before.p.startsWith(CONTENT);
  const afterContent = after.p.startsWith(CONTENT);
  if (beforeContent !== afterContent) {
    changes.push(`key mode ${beforeContent ? "content" : "stat"} → ${afterContent ? "content" : "stat"}`);
  } else if (before.p !== after.p) {
    changes.push(afterContent ? "source content changed" : `source path ${before.p} → ${after.p}`);
  }
  if (beforeContent === afterContent && before.m !== after.m) changes.push("source modified (mtime)");
  // A content change usually changes the size too; one phrase says it.
  if (before.s !== after.s && !(afterContent && before.p !== after.p)) changes.push(`source size ${before.s} → ${after.s} bytes`);
  if (before.ms !== after.ms) changes.push(`media start ${before.ms} → ${after.ms}`);
  if (before.d !== after.d) changes.push(`duration ${seconds(before.d)} → ${seconds(after.d)}`);
  if (before.f !== after.f) changes.push(`fps ${before.f} → ${after.f}`);
  if (before.fmt !== after.fmt) changes.push(`format ${before.fmt} → ${after.fmt}`);
  if ((before.t ?? "") !== (after.t ?? "")) changes.push(`settings ${before.t || "(defaults)"} → ${after.t || "(defaults)"}`);
  return changes;
}

function seconds(d: number): string {
  return d < 0 ? "(natural)" : String(d);
}
