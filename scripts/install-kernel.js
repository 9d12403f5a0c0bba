#!/usr/bin/env node
// Registers this project's tslab (TypeScript) Jupyter kernel for the current user, without a global npm install:
// the kernel runs node_modules/tslab from this checkout, so notebooks import the built nnssl-adapt package. The
// package is built first when dist/ is missing or older than the sources (notebooks cannot import it otherwise), and
// the script says so. `npm ci` runs this with --build-only (the `prepare` script), so a fresh checkout is built.
// Usage: npm run kernel:install [-- --prefix DIR]   (DIR/share/jupyter/kernels/..., then set JUPYTER_PATH=DIR/share/jupyter)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync, renameSync, symlinkSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

/** Newest modification time of the .ts sources under the folders tsconfig.json compiles. */
function newestSource() {
  let t = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  for (const d of ["sdk", "kernel-extensions"]) if (existsSync(join(root, d))) walk(join(root, d));
  return t;
}

const built = join(root, "dist", "sdk", "index.js");
const stale = !existsSync(built) || !existsSync(join(root, "dist", "kernel-extensions", "index.js")) || statSync(built).mtimeMs < newestSource();
if (stale) {
  if (!existsSync(tsc)) {
    console.error(`install-kernel: the package is not built and ${tsc} is missing: run npm ci first`);
    process.exit(1);
  }
  console.log("nnssl-adapt: building the package (dist/) so notebooks can import it: npm run build ...");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit", cwd: root });
  console.log("nnssl-adapt: built dist/");
}
if (process.argv.includes("--build-only")) process.exit(0);

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
const base = i > 0 ? join(resolve(process.argv[i + 1]), "share", "jupyter") : (process.env.JUPYTER_DATA_DIR ?? join(homedir(), ".local", "share", "jupyter"));
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
console.log(`registered Jupyter kernel "nnssl-adapt" in ${dir} (runs ${root})`);
if (i > 0) console.log(`  Jupyter finds it with: export JUPYTER_PATH=${base}`);
console.log("  after `npm run build` (or a git pull), restart the kernel of open notebooks to load the new build");
