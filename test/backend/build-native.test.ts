// scripts/build-native.js is npm's "install" hook: whatever happens it must exit 0 with a single line, so that
// `npm install` / `npm ci` never fail because of the optional addon. Run on a throwaway copy with a broken source, so
// the real native/build stays untouched.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const hasDnnl = existsSync("/usr/include/oneapi/dnnl/dnnl.hpp") && existsSync("/usr/lib/x86_64-linux-gnu/libdnnl.so");

function packageCopy(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "build-native-"));
  mkdirSync(join(dir, "scripts"));
  mkdirSync(join(dir, "native", "src"), { recursive: true });
  copyFileSync(join(root, "scripts", "build-native.js"), join(dir, "scripts", "build-native.js"));
  copyFileSync(join(root, "native", "binding.gyp"), join(dir, "native", "binding.gyp"));
  writeFileSync(join(dir, "native", "src", "addon.cc"), source);
  return dir;
}

describe("build-native.js", () => {
  it.each([
    [
      "a source that does not compile",
      "#error deliberately broken\n",
      {},
      hasDnnl ? /^nnssl-adapt: building the oneDNN backend failed \(/ : /^nnssl-adapt: libdnnl not found/,
    ],
    ["NNSSL_ADAPT_SKIP_NATIVE set", "#error never compiled\n", { NNSSL_ADAPT_SKIP_NATIVE: "1" }, /^nnssl-adapt: NNSSL_ADAPT_SKIP_NATIVE is set/],
  ])("build-native.js with %s exits 0 and prints one line", (_, source, env, line) => {
    const dir = packageCopy(source);
    const r = spawnSync(process.execPath, [join(dir, "scripts", "build-native.js")], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(existsSync(join(dir, "native", "build", "Release", "nnssl_onednn.node"))).toBe(false);
  });
});
