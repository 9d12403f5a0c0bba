#!/usr/bin/env node
// `npm run bench <name> [args]`: runs scripts/bench/<name>.js, which prints ratios against a reference run
// (PyTorch, upstream Python, or our own pure-JS path) measured in the same run.
import { readdirSync } from "node:fs";
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL("./bench/", import.meta.url))
  .filter((f) => f.endsWith(".js") && !f.endsWith("-common.js"))
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
// On the GPU, train and predict time the network step and sliding-window inference against PyTorch on the same device
// (scripts/bench/webgpu-train.js, webgpu-predict.js); the CPU benches of those names measure whole cases.
const script = b >= 0 && rest[b + 1] === "webgpu" && (name === "train" || name === "predict") ? `webgpu-${name}` : name;
process.argv = [process.argv[0], new URL(`./bench/${script}.js`, import.meta.url).pathname, ...rest];
await import(`./bench/${script}.js`);
