import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";

const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

export default defineConfig({
  entry: {
    index: "src/index.ts",
    cache: "src/cache.ts",
    // The benchmark's way in; not in package.json's exports.
    internal: "src/internal.ts",
    runtime: "src/runtime/index.ts",
    rollup: "src/rollup.ts",
    cli: "src/cli/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "node20",
  sourcemap: true,
  splitting: true,
  define: { __VERSION__: JSON.stringify(version) },
});
