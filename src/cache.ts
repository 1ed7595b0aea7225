/** Programmatic store API, used by the CLI and by anyone scripting the cache. */
export { computeKey, entryName, keyInput, SCHEMA_PREFIX, type KeyInput, type FrameFormat, type KeyMode } from "./core/key.js";
export { frameCount, parseFps, toMicros, type Rational } from "./core/time.js";
export { openStore, lookupEntry, publishEntry, type StoredEntry } from "./store/store.js";
export { readSentinel, type Sentinel } from "./store/sentinel.js";
export { Engine, type VideoResult } from "./pipeline/engine.js";
export { resolveOptions, type FramecacheOptions } from "./core/options.js";
export { digestFile } from "./media/digest.js";
export { extractionArgs } from "./core/ffmpeg-args.js";
