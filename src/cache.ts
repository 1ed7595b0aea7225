/**
 * The store's programmatic API: the verbs the CLI is made of, for anyone scripting the cache.
 * The extraction pipeline itself is not part of it; use the Vite plugin or `framecache extract`.
 */
export { computeKey, entryName, keyInput, SCHEMA_PREFIX, type KeyInput, type FrameFormat, type KeyMode } from "./core/key.js";
export type { Task } from "./core/plan.js";
export { openStore, lookupEntry, publishEntry, type StoredEntry, type Produced } from "./store/store.js";
export { readSentinel, type Sentinel } from "./store/sentinel.js";
export { verifyStore, type VerifyOptions, type VerifyStats, type VerifyProblem } from "./store/verify.js";
export { collectGarbage, cleanStore, type GcOptions, type GcStats, type CleanStats } from "./store/gc.js";
export { readInventory, knownEntries, type Inventory, type EntryInfo } from "./store/inventory.js";
export { explainMiss, keyChanges, type KnownEntry, type MissExplanation } from "./core/explain.js";
export { tryLock, waitForLock, lockState, type HeldLock, type LockOwner, type LockState } from "./store/lock.js";
