import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../src/media/run.js";

const dir = mkdtempSync(join(tmpdir(), "framecache-run-"));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("run", () => {
  it("collects stdout, or streams it, and reports the exit code", async () => {
    expect(await run("ffmpeg", ["-hide_banner", "-version"])).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^ffmpeg version/) });
    const chunks: string[] = [];
    const streamed = await run("sh", ["-c", "echo one; echo two; exit 3"], { onStdout: (c) => chunks.push(c) });
    expect(streamed).toMatchObject({ exitCode: 3, stdout: "" });
    expect(chunks.join("")).toBe("one\ntwo\n");
  });

  it("keeps only the tail of a flood on stderr", async () => {
    // A decoder that complains about every frame of a long file.
    const result = await run("sh", ["-c", "yes 'corrupt frame' | head -c 3000000 >&2; echo last words >&2"]);
    expect(result.stderr.length).toBeLessThanOrEqual(64 * 1024);
    expect(result.stderr.endsWith("last words\n")).toBe(true);
  });

  it("runs work nobody waits for at the priority asked for", async () => {
    // `nice` with no arguments prints the niceness it runs at; it waits a moment so the change lands first.
    const niceness = script("niceness", "sleep 0.2\nnice");
    expect((await run(niceness, [], { priority: 19 })).stdout.trim()).toBe("19");
    expect((await run(niceness, [])).stdout.trim()).toBe(String(getPriority()));
  });

  it("says why a binary did not start, without an exit code", async () => {
    const missing = await run(join(dir, "no-such-binary"), []);
    expect(missing.exitCode).toBeUndefined();
    expect(missing.error?.code).toBe("ENOENT");
  });

  it("a process that exited is not reported as timed out while something it started holds its pipes", async () => {
    const started = Date.now();
    const result = await run("sh", ["-c", "sleep 5 & exit 0"], { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a process cancelled after it exited, whose output something it started still holds, is reported as cancelled", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await run("sh", ["-c", "echo early; (sleep 1; echo late) & exit 0"], { signal: controller.signal });
    expect(result).toMatchObject({ exitCode: 0, canceled: true });
    expect(result.stdout).not.toContain("late");
  });

  it("does not start a process for a signal already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await run(join(dir, "no-such-binary"), [], { signal: controller.signal });
    expect(result.canceled).toBe(true);
    expect(result.error).toBeUndefined();
  });

  it("kills a process that ignores SIGTERM at the timeout, and one that ignores cancellation", async () => {
    const stubborn = script("stubborn", "trap '' TERM\nsleep 30 & wait; sleep 30");
    const started = Date.now();
    const timedOut = await run(stubborn, [], { timeoutMs: 300 });
    expect(timedOut).toMatchObject({ timedOut: true, canceled: false, signal: "SIGKILL" });
    expect(timedOut.exitCode).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    expect(await run(stubborn, [], { signal: controller.signal })).toMatchObject({ canceled: true, timedOut: false, signal: "SIGKILL" });
  });
});
