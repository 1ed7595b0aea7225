import { join } from "node:path";
import { execa } from "execa";
import { expect, it } from "vitest";

/**
 * The soak's short form (about a minute): a real dev server under edits, replaced and deleted
 * videos, builds and GC beside it, one build killed. The long form is `npm run soak -- --seconds 900`.
 */
it("a dev server soaked for a minute serves only right frames and leaves a clean store", async () => {
  const run = await execa("node", [join(__dirname, "../soak/run.mjs"), "--seconds", "60"], { reject: false });
  const figures = JSON.parse(run.stdout) as { failures: string[]; framesChecked: number; faults: { killedBuilds: number }; builds: number; gcRuns: number; unhandledRejections: number };
  expect(figures.failures).toEqual([]);
  expect(run.exitCode).toBe(0);
  expect(figures.framesChecked).toBeGreaterThan(50);
  expect(figures.faults.killedBuilds).toBe(1);
  expect(figures.builds).toBeGreaterThan(1);
  expect(figures.gcRuns).toBeGreaterThan(1);
  expect(figures.unhandledRejections).toBe(0);
}, 240_000);
