import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadTorchFile, parseTorch, TorchTensor } from "../../../sdk/io/torch/index.js";
import { makeFindGlobal } from "../../../sdk/io/torch/allowlist.js";
import { unpickle } from "../../../sdk/io/torch/unpickle.js";
import { ZipArchive } from "../../../sdk/io/torch/zip-read.js";
import { readWhole } from "../../../sdk/io/torch/load.js";
import { CheckpointError } from "../../../sdk/errors.js";
import { compareTree, countStorages } from "./expected-tree.js";

const FIX = new URL("../../fixtures/", import.meta.url).pathname;
const FIXTURES = ["torch/zip_nested_state_dict", "torch/dtypes", "torch/shared_views", "torch/legacy", "torch/python_objects", "nnssl/nnssl_ResEncMini"];

describe("loadTorchFile(fixture)", () => {
  it.each(FIXTURES)("reads %s.pth exactly like torch.load", async (name) => {
    const expected = JSON.parse(readFileSync(`${FIX}${name}.expected.json`, "utf8"));
    const value = await loadTorchFile(`${FIX}${name}.pth`);
    expect(compareTree(value, expected.root)).toEqual([]);
    expect(countStorages(value)).toBe(expected.n_distinct_storages);
  });

  it("reads nnssl_ResEncMini.pth network weights with the reference shapes and sums", async () => {
    const ref = JSON.parse(readFileSync(`${FIX}nnssl/nnssl_ResEncMini_state_dict_shapes.json`, "utf8")) as Record<
      string,
      { dtype: string; shape: number[]; sum: number }
    >;
    const ck = (await loadTorchFile(`${FIX}nnssl/nnssl_ResEncMini.pth`)) as { network_weights: Record<string, TorchTensor> };
    expect(Object.keys(ck.network_weights)).toEqual(Object.keys(ref));
    for (const [k, r] of Object.entries(ref)) {
      const t = ck.network_weights[k]!;
      expect([k, t.dtype, t.shape]).toEqual([k, r.dtype, r.shape]);
      const sum = Array.from(t.toFloat32()).reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - r.sum)).toBeLessThan(1e-9 * Math.max(1, Math.abs(r.sum)));
    }
    // aliases share storage (torch.save stores each storage once)
    expect(ck.network_weights["encoder.stem.convs.0.all_modules.0.weight"]!.storage).toBe(ck.network_weights["encoder.stem.convs.0.conv.weight"]!.storage);
  });

  it("returns zero-copy float32 views for 64-byte aligned stored entries", () => {
    const bytes = new Uint8Array(readFileSync(`${FIX}nnssl/nnssl_ResEncMini.pth`)); // own buffer, byteOffset 0
    const ck = parseTorch(bytes) as { network_weights: Record<string, TorchTensor> };
    const t = ck.network_weights["encoder.stem.convs.0.conv.weight"]!;
    expect(t.toFloat32().buffer).toBe(bytes.buffer); // a view into the file's bytes, not a copy
    expect(t.toFloat32().length).toBe(216);
  });
});

describe("parseTorch(malicious)", () => {
  it.each(["malicious", "malicious_stack_global"])("refuses %s.pth naming os.system, without executing it", (name) => {
    const bytes = readFileSync(`${FIX}torch/${name}.pth`);
    expect(() => parseTorch(bytes, `${name}.pth`)).toThrow(
      new CheckpointError("refusing to load: the pickle asks for os.system, which is not an allowed type", { file: `${name}.pth` }),
    );
  });
});

describe("parseTorch(damaged)", () => {
  const files = ["torch/zip_nested_state_dict", "torch/legacy", "torch/shared_views", "nnssl/nnssl_ResEncMini"];
  it.each(files)("refuses every truncation of %s.pth with a CheckpointError", (name) => {
    const bytes = readFileSync(`${FIX}${name}.pth`);
    const cuts = [0, 1, 2, 10, 100, bytes.length >> 2, bytes.length >> 1, bytes.length - 100, bytes.length - 23, bytes.length - 1];
    for (const n of cuts) {
      expect(() => parseTorch(bytes.subarray(0, n), "cut.pth"), `cut at ${n}`).toThrow(CheckpointError);
    }
  });

  it("refuses a flipped byte inside a tensor's data with verifyCrc, and inside data.pkl always (CRC mismatch)", () => {
    const bytes = new Uint8Array(readFileSync(`${FIX}torch/dtypes.pth`));
    const zip = new ZipArchive(bytes, "x");
    const e = zip.entries.get("dtypes/data/0")!;
    bytes[e.localHeaderOffset + 30 + bytes[e.localHeaderOffset + 26]! + (bytes[e.localHeaderOffset + 28]! | (bytes[e.localHeaderOffset + 29]! << 8)) + 1]! ^=
      0x10;
    expect(() => parseTorch(bytes, "flip.pth", { verifyCrc: true })).toThrow(/flip.pth: corrupt zip archive: CRC mismatch in dtypes\/data\/0/);
    expect(() => parseTorch(bytes, "flip.pth")).not.toThrow(); // torch.load does not check it either
    const p = zip.entries.get("dtypes/data.pkl")!;
    bytes[p.localHeaderOffset + 30 + bytes[p.localHeaderOffset + 26]! + (bytes[p.localHeaderOffset + 28]! | (bytes[p.localHeaderOffset + 29]! << 8)) + 5]! ^=
      0x01;
    expect(() => parseTorch(bytes, "flip.pth")).toThrow("flip.pth: corrupt zip archive: CRC mismatch in dtypes/data.pkl (the file is damaged)");
  });

  it("refuses a file that is not a checkpoint", () => {
    expect(() => parseTorch(new TextEncoder().encode("hello"), "a.txt")).toThrow("a.txt: not a PyTorch checkpoint");
    expect(() => parseTorch(new Uint8Array(0), "e.pth")).toThrow("e.pth: the file is empty");
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode("ustar"), 257);
    expect(() => parseTorch(tar, "t.pth")).toThrow("t.pth: a tar-format checkpoint (torch < 0.4) is not supported");
  });

  it("unpickle(mutated data.pkl) only ever throws CheckpointError", () => {
    // Deterministic fuzzing of the unpickler itself (bypassing the zip CRC): every single-byte change of the pickle.
    const zip = new ZipArchive(new Uint8Array(readFileSync(`${FIX}torch/python_objects.pth`)), "x");
    const pkl = zip.read("python_objects/data.pkl");
    const hooks = {
      findGlobal: makeFindGlobal({ file: "f", tensors: [] }),
      persistentLoad: () => ({ key: "0", dtype: "int64", bytes: new Uint8Array(8), data: new BigInt64Array(1) }),
    };
    let failures = 0;
    for (let i = 0; i < pkl.length; i++) {
      for (const v of [0x00, 0xff, pkl[i]! ^ 0x01, 0x28, 0x2e]) {
        const m = pkl.slice();
        m[i] = v;
        try {
          unpickle(m, "f", hooks);
        } catch (err) {
          failures++;
          if (!(err instanceof CheckpointError)) throw new Error(`byte ${i} -> ${v}: ${String(err)}`, { cause: err });
        }
      }
    }
    expect(failures).toBeGreaterThan(pkl.length);
  });

  it("refuses a bare pickle that asks for a global before torch's magic number", () => {
    expect(() => parseTorch(new Uint8Array([0x80, 0x02, 0x63, ...new TextEncoder().encode("posix\nsystem\n"), 0x2e]), "p.pth")).toThrow(
      "p.pth: refusing to load: the legacy header asks for posix.system",
    );
  });
});

describe("readWhole(file)", () => {
  it("reads files above readFile's 2 GiB limit in chunks (exercised here with small limits)", async () => {
    const file = `${FIX}nnssl/nnssl_ResEncMini.pth`;
    const chunked = await readWhole(file, { readFileBelow: 10, chunk: 1 << 20 });
    expect(Buffer.from(chunked).equals(readFileSync(file))).toBe(true);
  });
});

describe("ZipArchive.read(deflate bomb)", () => {
  it("refuses a member whose declared size no deflate stream can reach", async () => {
    const { deflateRawSync } = await import("node:zlib");
    const { zipChunks } = await import("../../../sdk/io/torch/zip-write.js");
    const bytes = new Uint8Array(Buffer.concat(zipChunks([{ name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) }])));
    // describe the member as a deflated one claiming 100 MB (as a hostile central directory would)
    const comp = deflateRawSync(Buffer.from([0x80, 2, 0x4e, 0x2e]));
    const z = new ZipArchive(bytes, "b.pth");
    const e = z.entries.get("a/data.pkl")!;
    Object.assign(e, { method: 8, size: 100_000_000, compressedSize: comp.length });
    expect(() => z.read("a/data.pkl")).toThrow("b.pth: corrupt zip archive: a/data.pkl claims to inflate from");
  });
});
