/** Programmatic store API, used by the CLI and by anyone scripting the cache. */
export { computeKey, entryName, keyInput, SCHEMA_PREFIX, type KeyInput, type FrameFormat, type KeyMode } from "./core/key.js";
export { frameCount, parseFps, toMicros, type Rational } from "./core/time.js";
export { openStore, lookupEntry, publishEntry, type StoredEntry } from "./store/store.js";
export { readSentinel, type Sentinel } from "./store/sentinel.js";
export { Engine, type VideoResult } from "./pipeline/engine.js";
export { resolveOptions, type FramecacheOptions } from "./core/options.js";
export { collectGarbage, cleanStore, type GcOptions, type GcStats, type CleanStats } from "./store/gc.js";
export { verifyStore, type VerifyOptions, type VerifyStats, type VerifyProblem } from "./store/verify.js";
export { readInventory, knownEntries, type Inventory, type EntryInfo } from "./store/inventory.js";
export { tryLock, waitForLock, lockState, lockPath, type HeldLock, type LockOwner, type LockState } from "./store/lock.js";
export { DigestMemo } from "./store/digest-memo.js";
export { removeEntry } from "./store/remove.js";
export { explainMiss, keyChanges, type KnownEntry, type MissExplanation } from "./core/explain.js";
export { digestFile } from "./media/digest.js";
export { extractionArgs } from "./core/ffmpeg-args.js";
