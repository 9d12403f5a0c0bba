#!/usr/bin/env node
// npm install hook ("install" script): builds the optional oneDNN addon (native/) when libdnnl is present.
// It never fails the install: without libdnnl, or when the build breaks, it prints one line and exits 0, and
// sdk/backend/onednn.ts then reports the addon as unavailable so the pure-JS tfjs backend is used.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = join(root, "native");
const hint = "apt-get install libdnnl-dev, then `node scripts/build-native.js` (or `npm rebuild nnssl-adapt`)";

// Debian/Ubuntu put the oneDNN 2.x header under /usr/include/oneapi/dnnl; a manual install often uses /usr/local.
const includeDirs = ["/usr/include", "/usr/local/include", ...(process.env.CPATH ?? "").split(":").filter(Boolean)];
const libDirs = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/usr/lib",
  "/usr/local/lib",
  ...(process.env.LIBRARY_PATH ?? "").split(":").filter(Boolean),
];
const hasHeader = includeDirs.some((d) => existsSync(join(d, "oneapi", "dnnl", "dnnl.hpp")));
const hasLib = libDirs.some((d) => existsSync(join(d, "libdnnl.so")));

if (process.env.NNSSL_ADAPT_SKIP_NATIVE) {
  console.log("nnssl-adapt: NNSSL_ADAPT_SKIP_NATIVE is set, not building the oneDNN backend; pure-JS tfjs will be used.");
  process.exit(0);
}
if (!hasHeader || !hasLib) {
  console.log(`nnssl-adapt: libdnnl not found, using the pure-JS tfjs backend; for the fast oneDNN CPU backend: ${hint}.`);
  process.exit(0);
}

/** node-gyp as npm runs it during install (npm_config_node_gyp), else npm's bundled copy, else one on PATH. */
function nodeGypCommand() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return [process.execPath, process.env.npm_config_node_gyp];
  }
  const require = createRequire(import.meta.url);
  for (const candidate of ["node-gyp/bin/node-gyp.js", "npm/node_modules/node-gyp/bin/node-gyp.js"]) {
    try {
      return [process.execPath, require.resolve(candidate)];
    } catch {
      /* not resolvable from here */
    }
  }
  const bundled = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ["node-gyp"];
}

// Node's headers: distro packages of Node ship them under <prefix>/include/node, so point node-gyp there instead of
// letting it download them (no network on many machines this runs on).
const prefix = join(dirname(process.execPath), "..");
const nodedir = existsSync(join(prefix, "include", "node", "common.gypi")) ? [`--nodedir=${prefix}`] : [];
const [cmd, ...args] = nodeGypCommand();
const verbose = Boolean(process.env.NNSSL_ADAPT_NATIVE_VERBOSE);
const result = spawnSync(cmd, [...args, "rebuild", "--directory", nativeDir, ...nodedir], {
  cwd: root,
  stdio: verbose ? "inherit" : "pipe",
  encoding: "utf8",
});
if (result.status === 0) {
  console.log("nnssl-adapt: built the oneDNN CPU backend (native/build/Release/nnssl_onednn.node).");
} else {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
  console.log(
    `nnssl-adapt: building the oneDNN backend failed (${why}; rerun with NNSSL_ADAPT_NATIVE_VERBOSE=1 node scripts/build-native.js for the log), using pure-JS tfjs.`,
  );
}
process.exit(0);
