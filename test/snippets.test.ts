// The TypeScript that users copy: the ```ts blocks of the READMEs and the code cells of notebooks/ must compile against
// the built package (dist/*.d.ts). README snippets are checked as a user's strict ESM project sees them (module
// NodeNext, `nnssl-adapt` resolved through package.json "exports"); each notebook's cells, joined in order, as the
// tslab kernel compiles them (not strict, Node10 resolution through "typesVersions", top-level await), importing
// nothing but the package's entry points.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipUnlessCI } from "./helpers/ci.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
// Inside the package (self-references by name resolve only there) and git-ignored (/tmp/ in .gitignore).
const WORK = path.join(ROOT, "tmp", `snippets-${process.pid}`);
const built = skipUnlessCI(existsSync(path.join(ROOT, "dist", "sdk", "index.d.ts")) ? null : "dist/ not built (npm run build)");

/** The ```ts blocks of a markdown file. */
function markdownSnippets(file: string): string[] {
  return [...readFileSync(path.join(ROOT, file), "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A notebook's code cells joined in order (they share one scope in the kernel). */
function notebookSource(file: string): string {
  const nb = JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells
    .filter((c) => c.cell_type === "code")
    .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source))
    .join("\n\n");
}

/** Writes the files and a tsconfig into WORK/<name>, runs tsc there and returns its output ("" when clean). */
function compile(name: string, files: Record<string, string>, compilerOptions: Record<string, unknown>): string {
  const dir = path.join(WORK, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  const base = {
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    target: "ES2022",
    lib: ["ES2022", "DOM"],
    types: ["node"],
    typeRoots: [path.join(ROOT, "node_modules", "@types")],
  };
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...base, ...compilerOptions }, include: Object.keys(files) }));
  const r = spawnSync(process.execPath, [TSC, "-p", dir], { encoding: "utf8", timeout: 300_000 });
  return `${r.stdout}${r.stderr}`.trim() || (r.status === 0 ? "" : `tsc exited with ${r.status}`);
}

describe.skipIf(built !== null)(`documented TypeScript compiles against dist/ ${built ?? ""}`, () => {
  afterAll(() => rmSync(WORK, { recursive: true, force: true }));

  it("the ```ts blocks of README.md and datasets-examples/README.md (strict, NodeNext)", () => {
    const snippets = ["README.md", "datasets-examples/README.md"].flatMap((f) =>
      markdownSnippets(f).map((s, i) => [`${f.replace(/[/.]/g, "_")}-${i}.ts`, s] as const),
    );
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    // `export {}` makes each snippet a module (top-level await, own scope) like a user's .ts file.
    const files = Object.fromEntries(snippets.map(([n, s]) => [n, `${s}\nexport {};\n`]));
    expect(compile("readme", files, { strict: true, module: "NodeNext", moduleResolution: "NodeNext" })).toBe("");
  }, 300_000);

  it("the code cells of each notebook (as tslab compiles them)", () => {
    const notebooks = ["01-explore-dataset", "02-adaptation-modes", "03-finetune-pretrained", "04-predict-and-inspect"];
    const files = Object.fromEntries(notebooks.map((n) => [`${n}.ts`, `${notebookSource(`notebooks/${n}.ipynb`)}\nexport {};\n`]));
    for (const [name, text] of Object.entries(files)) {
      expect(text).toMatch(/from "nnssl-adapt"/);
      // Notebooks use the public API only: the package entry points, never a path into sdk/ or dist/.
      const specifiers = [...text.matchAll(/\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]!);
      const internal = specifiers.filter(
        (s) => s.startsWith(".") || s.startsWith("/") || (s.startsWith("nnssl-adapt/") && s !== "nnssl-adapt/kernel-extensions"),
      );
      expect(internal, name).toEqual([]);
    }
    const paths = {
      "nnssl-adapt": [path.join(ROOT, "dist/sdk/index.d.ts")],
      "nnssl-adapt/kernel-extensions": [path.join(ROOT, "dist/kernel-extensions/index.d.ts")],
    };
    expect(compile("notebooks", files, { strict: false, module: "ESNext", moduleResolution: "Node10", paths })).toBe("");
  }, 300_000);
});
