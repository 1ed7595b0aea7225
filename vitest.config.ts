import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/helpers/plain-summary.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ffmpeg-heavy suites share two cores; running files one at a time keeps timings honest.
    fileParallelism: false,
  },
});
