import { framecache } from "./vite/plugin.js";

export default framecache;
export { framecache };
export type { FramecacheOptions, RemoteOptions } from "./core/options.js";
export type { RemoteSourceOptions } from "./core/remote-source-options.js";
export { FramecacheError, type ErrorCode } from "./core/errors.js";
export type { ManifestVideo } from "./pipeline/output.js";
export type { Report } from "./core/report.js";
