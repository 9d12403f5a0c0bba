#!/usr/bin/env node
// `npm run bench <name> [args]`: runs scripts/bench/<name>.js, which prints ratios against a reference run
// (PyTorch, upstream Python, or our own pure-JS path) measured in the same run.
import { readdirSync } from "node:fs";
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL("./bench/", import.meta.url)).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench <${available.join("|")}>`);
  process.exit(2);
}
process.argv = [process.argv[0], new URL(`./bench/${name}.js`, import.meta.url).pathname, ...rest];
await import(`./bench/${name}.js`);
