import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const CLI = join(__dirname, "../dist/cli.js");

async function help(...args: string[]): Promise<string> {
  const { stdout } = await execa("node", [CLI, ...args, "--help"], { env: { NO_COLOR: "1" } });
  return stdout;
}

/** The body lines of a `Title:` section of cac's help. */
function section(text: string, title: string): string[] {
  const m = new RegExp(`^${title}:\\n((?:  .*\\n?)+)`, "m").exec(text);
  return m ? m[1]!.trimEnd().split("\n") : [];
}

const GLOBAL = ["--cache-dir", "--quiet", "--verbose"];

describe("framecache --help", () => {
  it("fits on one 80×24 screen", async () => {
    const text = await help();
    const lines = text.split("\n");
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines.filter((l) => l.length > 80)).toEqual([]);
    expect(section(text, "Options").map((l) => l.trim().split(/\s+/)[0])).toEqual([...GLOBAL, "-h,", "-v,"]);
  });

  it("gives every command a description and examples that use every option", async () => {
    const commands = section(await help(), "Commands").map((l) => /^ {2}(\S+)(?: \S+)* {2,}(\S.*)$/.exec(l)!);
    expect(commands.map((m) => m[1])).toEqual(expect.arrayContaining(["extract", "doctor"]));
    const examples: string[] = [];
    for (const [, name, description] of commands) {
      const text = await help(name!);
      // What it does, then how to call it.
      expect(text.split("\n")[2]).toBe(description);
      const own = section(text, "Examples");
      expect(own.length, `${name} has examples`).toBeGreaterThan(0);
      for (const example of own) expect(example).toMatch(new RegExp(`^ {2}\\$ (\\S+=\\S+ )?framecache ${name}\\b`));
      examples.push(...own);
      const options = section(text, "Options").map((l) => /^ {2}(?:-\w, )?(--[\w-]+)(?: <\w+>)?\s+(\S.*)$/.exec(l)!);
      for (const [, flag, what] of options) {
        expect(what!.length, `${name} ${flag} is described`).toBeGreaterThan(5);
        if (flag === "--help" || GLOBAL.includes(flag!)) continue;
        expect(own.some((e) => e.includes(` ${flag}`)), `an example of ${name} uses ${flag}`).toBe(true);
      }
    }
    for (const flag of GLOBAL) expect(examples.some((e) => e.includes(` ${flag}`)), `an example uses ${flag}`).toBe(true);
  });
});
