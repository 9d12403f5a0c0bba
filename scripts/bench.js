#!/usr/bin/env node
// `npm run bench <name> [args]`: runs scripts/bench/<name>.js, which prints ratios against a reference run
// (PyTorch, upstream Python, or our own pure-JS path) measured in the same run.
import { readdirSync } from "node:fs";
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL("./bench/", import.meta.url))
  .filter((f) => f.endsWith(".js"))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench <${available.join("|")}>`);
  process.exit(2);
}
// --backend NAME (webgpu, cpu-onednn, cpu) runs the bench's own side on that backend, as it does for every command.
const b = rest.indexOf("--backend");
if (b >= 0) {
  const { backendInfo } = await import("../dist/sdk/backend/index.js");
  const info = await backendInfo({ backend: rest[b + 1], origin: "--backend" }).catch((err) => {
    console.error(`bench: ${err.message}`);
    process.exit(2);
  });
  console.log(`backend ${info.name}: ${info.provider}`);
}
process.argv = [process.argv[0], new URL(`./bench/${name}.js`, import.meta.url).pathname, ...rest];
await import(`./bench/${name}.js`);
