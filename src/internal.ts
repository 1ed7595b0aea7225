/**
 * For this repository's benchmark only: built into dist/ but not in the package's exports,
 * so nothing here is a promise to users.
 */
export { Engine } from "./pipeline/engine.js";
export { resolveOptions } from "./core/options.js";
export { digestFile } from "./media/digest.js";
