import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { mapInWorkers, reviveError } from "../../sdk/util/pool.js";
import { CheckpointError, ConfigError, InputError } from "../../sdk/errors.js";

// A task module in plain JS, so it runs in real worker threads (TypeScript task modules run in-process under vitest).
const dir = mkdtempSync(path.join(tmpdir(), "pool-"));
const task = path.join(dir, "task.mjs");
writeFileSync(
  task,
  `export function square(x) { if (x < 0) { const e = new Error("case " + x + ": negative"); e.name = "InputError"; throw e; } return { v: x * x, a: new Float32Array([x]) }; }\n`,
);

describe("mapInWorkers(moduleUrl, exportName, inputs)", () => {
  it("returns outputs in input order from 2 worker threads, without a progress callback", async () => {
    const out = await mapInWorkers<number, { v: number; a: Float32Array }>(pathToFileURL(task), "square", [1, 2, 3, 4, 5], { numWorkers: 2 });
    expect(out.map((o) => o.v)).toEqual([1, 4, 9, 16, 25]);
    expect(out[2]!.a).toBeInstanceOf(Float32Array);
  });
  it("reports progress once per input", async () => {
    const seen: number[] = [];
    await mapInWorkers(pathToFileURL(task), "square", [1, 2, 3], { numWorkers: 2, onProgress: (d) => seen.push(d) });
    expect(seen).toEqual([1, 2, 3]);
  });
  it("rejects with the worker's user-facing error", async () => {
    await expect(mapInWorkers(pathToFileURL(task), "square", [1, -2, 3], { numWorkers: 2 })).rejects.toThrow("case -2: negative");
  });
});

describe("reviveError(e)", () => {
  it.each([
    ["InputError", InputError, "a.nii.gz"],
    ["CheckpointError", CheckpointError, undefined],
  ] as const)("reviveError of a %s keeps its class, message and file", (name, cls, file) => {
    const err = reviveError({ name, message: `${file ?? "x"}: broken`, file });
    expect([err instanceof cls, err.name, err.message, (err as InputError).file]).toEqual([true, name, `${file ?? "x"}: broken`, file]);
  });
  it("reviveError of another error is a plain Error with the message", () => {
    const err = reviveError({ name: "TypeError", message: "x is not a function" });
    expect([err.constructor, err.message]).toEqual([Error, "x is not a function"]);
  });
});

// Tasks that break the worker itself: before, each left mapInWorkers pending forever (and the process exited 0).
const breaking = path.join(dir, "breaking.mjs");
writeFileSync(
  breaking,
  ["export function exits(x) { if (x === 2) process.exit(3); return x; }", "export function returnsFunction(x) { return { f: () => x }; }", ""].join("\n"),
);

describe("mapInWorkers always settles", () => {
  it.each([NaN, "abc", 0, -2, 1.5, Infinity])("rejects numWorkers %s with a ConfigError naming the option and the range", async (n) => {
    const run = mapInWorkers(pathToFileURL(task), "square", [1, 2, 3], { numWorkers: n as number });
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    await expect(run).rejects.toThrow(`invalid numWorkers: ${typeof n === "string" ? `"${n}"` : n} (expected an integer >= 1)`);
  });
  it("rejects when a worker exits while working on an input", async () => {
    await expect(mapInWorkers(pathToFileURL(breaking), "exits", [1, 2, 3, 4], { numWorkers: 2 })).rejects.toThrow(
      /worker thread stopped \(exit code 3\) while working on input 1 of exits/,
    );
  }, 20_000);
  it("rejects when a result cannot be sent back, or the module has no such export", async () => {
    await expect(mapInWorkers(pathToFileURL(breaking), "returnsFunction", [1, 2], { numWorkers: 2 })).rejects.toThrow(/could not be cloned/);
    await expect(mapInWorkers(pathToFileURL(breaking), "nope", [1, 2], { numWorkers: 2 })).rejects.toThrow(/is not a function/);
  }, 20_000);
  it("rejects when an input cannot be sent to a worker", async () => {
    await expect(mapInWorkers(pathToFileURL(task), "square", [1, () => 2] as never[], { numWorkers: 2 })).rejects.toThrow(
      /input 1 of square cannot be sent to a worker thread/,
    );
  }, 20_000);
});
