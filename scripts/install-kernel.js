#!/usr/bin/env node
// Registers this project's tslab (TypeScript) Jupyter kernel for the current user, without a global npm install:
// the kernel runs node_modules/tslab from this checkout, so notebooks import the built nnssl-adapt package.
// Usage: npm run kernel:install [-- --prefix DIR]   (DIR/share/jupyter/kernels/..., then set JUPYTER_PATH=DIR/share/jupyter)
import { mkdirSync, writeFileSync, existsSync, renameSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tslab = join(root, "node_modules", "tslab", "bin", "tslab");
if (!existsSync(tslab)) {
  console.error(`install-kernel: ${tslab} not found: run npm ci first`);
  process.exit(1);
}
// tslab type-checks cells with TypeScript's Node10 resolution, which cannot resolve a package's import of itself,
// so `import ... from "nnssl-adapt"` in notebooks needs node_modules/nnssl-adapt (a link to this checkout).
const self = join(root, "node_modules", "nnssl-adapt");
if (!existsSync(self)) symlinkSync("..", self, "dir");

const i = process.argv.indexOf("--prefix");
const base = i > 0 ? join(resolve(process.argv[i + 1]), "share", "jupyter") : process.env.JUPYTER_DATA_DIR ?? join(homedir(), ".local", "share", "jupyter");
const dir = join(base, "kernels", "nnssl-adapt");
mkdirSync(dir, { recursive: true });
const spec = {
  argv: [process.execPath, tslab, "kernel", "--config-path", "{connection_file}"],
  display_name: "TypeScript (nnssl-adapt)",
  language: "typescript",
  env: { NODE_OPTIONS: "--max-old-space-size=8192" },
};
writeFileSync(join(dir, "kernel.json.tmp"), JSON.stringify(spec, null, 2) + "\n");
renameSync(join(dir, "kernel.json.tmp"), join(dir, "kernel.json"));
console.log(`registered Jupyter kernel "nnssl-adapt" in ${dir}`);
