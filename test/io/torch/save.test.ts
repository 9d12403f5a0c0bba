import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  formatTorch,
  loadTorchFile,
  orderedDict,
  parseTorch,
  pyFloat,
  PyTuple,
  saveTorchFile,
  TorchDevice,
  TorchTensor,
  isOrderedDict,
  PY_STATE,
} from "../../../sdk/io/torch/index.js";
import { zipChunks } from "../../../sdk/io/torch/zip-write.js";
import { CheckpointError } from "../../../sdk/errors.js";
import { pythonSkipReason } from "../../helpers/python.js";
import { compareTree, countStorages } from "./expected-tree.js";
import { describeWithTorch } from "./torch-oracle.js";

const FIX = new URL("../../fixtures/", import.meta.url).pathname;
const tmp = mkdtempSync(path.join(tmpdir(), "nnssl-torch-save-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const noTorch = pythonSkipReason(["torch"]);

/** A value exercising every type the writer supports, including views that share one storage. */
function richValue(): Record<string, unknown> {
  const base = TorchTensor.fromTypedArray(
    Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3),
    [2, 3, 4],
  );
  const transposed = new TorchTensor("float32", [4, 3, 2], [1, 4, 12], 0, base.storage);
  const offsetView = new TorchTensor("float32", [2, 2], [4, 1], 9, base.storage);
  const expanded = new TorchTensor("float32", [3, 5], [0, 1], 19, base.storage);
  return orderedDict({
    "encoder.stem.convs.0.conv.weight": base,
    "encoder.stem.convs.0.all_modules.0.weight": base,
    transposed,
    offsetView,
    expanded,
    f64: TorchTensor.fromTypedArray(new Float64Array([5e-324, -1.5, 1.7976931348623157e308]), [3]),
    f16: TorchTensor.fromTypedArray(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]), [2, 2], "float16"),
    bf16: TorchTensor.fromTypedArray(new Uint16Array([0x3f80, 0xff7f]), [2], "bfloat16"),
    i8: TorchTensor.fromTypedArray(new Int8Array([-128, 127]), [2]),
    i16: TorchTensor.fromTypedArray(new Int16Array([-32768, 32767]), [2]),
    i32: TorchTensor.fromTypedArray(new Int32Array([-(2 ** 31), 2 ** 31 - 1]), [2]),
    i64: TorchTensor.fromTypedArray(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]), [3]),
    u8: TorchTensor.fromTypedArray(new Uint8Array([0, 255]), [2]),
    bool: TorchTensor.fromTypedArray(new Uint8Array([1, 0, 1]), [3], "bool"),
    scalar0d: TorchTensor.fromTypedArray(new BigInt64Array([7n]), []),
    empty: TorchTensor.fromTypedArray(new Float32Array(0), [3, 0, 2]),
    many: TorchTensor.fromTypedArray(
      Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i)),
      [3000],
    ),
  });
}

describe("parseTorch(formatTorch(value))", () => {
  it("round-trips every supported Python type", () => {
    const value = {
      ints: [0, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 45 + 3, -(2 ** 53) + 1],
      bigs: [2n ** 80n, -(2n ** 80n) + 1n, 2n ** 63n],
      floats: [0.5, -0, 5e-324, Infinity, -Infinity],
      forcedFloat: pyFloat(3),
      strs: ["", "ascii", "ünïcödé 𝄞"],
      bools: [true, false, null],
      tuple: PyTuple.ofItems([1, PyTuple.ofItems([]), PyTuple.ofItems([2, 3, 4, 5])]),
      intKeys: new Map<unknown, unknown>([
        [1, "a"],
        [PyTuple.ofItems([1, 2]), "b"],
      ]),
      ordered: orderedDict({ z: 1, a: 2 }),
      device: [new TorchDevice("cuda", 1), new TorchDevice("cpu")],
      bytes: new Uint8Array([0, 1, 200, 255]),
      set: new Set([1, 2]),
      big: Array.from({ length: 2500 }, (_, i) => i),
    };
    const back = parseTorch(formatTorch(value)) as typeof value;
    expect(back.ints).toEqual(value.ints);
    expect(back.bigs).toEqual(value.bigs);
    expect(back.floats.map((x) => (Object.is(x, -0) ? "-0" : x))).toEqual([0.5, "-0", 5e-324, Infinity, -Infinity]);
    expect(back.forcedFloat).toBe(3);
    expect(back.strs).toEqual(value.strs);
    expect(back.bools).toEqual([true, false, null]);
    expect(back.tuple).toBeInstanceOf(PyTuple);
    expect(back.tuple[2]).toBeInstanceOf(PyTuple);
    expect(JSON.stringify(back.tuple)).toBe("[1,[],[2,3,4,5]]");
    expect([...back.intKeys.values()]).toEqual(["a", "b"]);
    expect(isOrderedDict(back.ordered) && Object.keys(back.ordered)).toEqual(["z", "a"]);
    expect(back.device.map(String)).toEqual(["cuda:1", "cpu"]);
    expect(Array.from(back.bytes)).toEqual([0, 1, 200, 255]);
    expect([...back.set]).toEqual([1, 2]);
    expect(back.big).toEqual(value.big);
  });

  it("round-trips tensors of every dtype, views and shared storages", () => {
    const value = richValue();
    const back = parseTorch(formatTorch(value)) as Record<string, TorchTensor>;
    for (const [k, t] of Object.entries(value) as [string, TorchTensor][]) {
      const b = back[k]!;
      expect([k, b.dtype, b.shape, b.stride, b.storageOffset]).toEqual([k, t.dtype, t.shape, t.stride, t.storageOffset]);
      expect(Array.from(b.toTypedArray() as ArrayLike<number>)).toEqual(Array.from(t.toTypedArray() as ArrayLike<number>));
    }
    expect(back["transposed"]!.storage).toBe(back["encoder.stem.convs.0.conv.weight"]!.storage);
    expect(back["encoder.stem.convs.0.all_modules.0.weight"]).toBe(back["encoder.stem.convs.0.conv.weight"]);
    expect(countStorages(back)).toBe(countStorages(value));
  });

  it("aligns every storage to 64 bytes and writes each shared storage once", () => {
    const bytes = formatTorch(richValue());
    const back = parseTorch(bytes) as Record<string, TorchTensor>;
    const offsets = Object.values(back)
      .filter((t) => t.storage.data.byteLength)
      .map((t) => t.storage.data.byteOffset - bytes.byteOffset);
    expect(offsets.every((o) => o % 64 === 0)).toBe(true);
    expect(countStorages(back)).toBe(13); // base + 4 views of it count once
  });

  it("reads back forced zip64 archives", () => {
    const back = parseTorch(formatTorch(richValue(), { forceZip64: true })) as Record<string, TorchTensor>;
    expect(back["many"]!.toNumbers().slice(0, 3)).toEqual(Array.from(Float32Array.from([0, Math.sin(1), Math.sin(2)])));
  });

  it.each(["zip_nested_state_dict", "dtypes", "shared_views", "legacy", "python_objects"])("re-writes fixture %s.pth losslessly", (name) => {
    const expected = JSON.parse(readFileSync(`${FIX}torch/${name}.expected.json`, "utf8"));
    const back = parseTorch(formatTorch(parseTorch(readFileSync(`${FIX}torch/${name}.pth`))));
    expect(compareTree(back, expected.root)).toEqual([]);
  });

  it("refuses a written view that reaches beyond its storage", () => {
    const t = TorchTensor.fromTypedArray(new Float32Array(6), [6]);
    const bad = new TorchTensor("float32", [2, 3], [3, 1], 1, t.storage);
    expect(() => parseTorch(formatTorch({ bad }), "v.pth")).toThrow(/v.pth: tensor of shape \[2, 3\].* reaches element 6 of storage 0, which has 6/);
  });

  it("refuses (and does not run) a pickle that would create a file", () => {
    const marker = path.join(tmp, "pwned");
    const pkl = new Uint8Array([
      0x80,
      0x02,
      ...new TextEncoder().encode(`cposix\nsystem\nX`),
      ...new Uint8Array(new Uint32Array([6 + marker.length]).buffer),
      ...new TextEncoder().encode(`touch ${marker}`),
      0x85,
      0x52,
      0x2e,
    ]);
    const chunks = zipChunks([
      { name: "x/data.pkl", data: pkl },
      { name: "x/version", data: new TextEncoder().encode("3\n") },
    ]);
    expect(() => parseTorch(Buffer.concat(chunks), "x.pth")).toThrow("x.pth: refusing to load: the pickle asks for posix.system, which is not an allowed type");
    expect(existsSync(marker)).toBe(false);
  });
});

describe.skipIf(noTorch !== null)(`saveTorchFile(file, value) read by real torch${noTorch ? ` (skipped: ${noTorch})` : ""}`, () => {
  it("is read by torch.load(weights_only=True) with equal values, views and storage sharing", async () => {
    const file = path.join(tmp, "rich.pth");
    const value = richValue();
    await saveTorchFile(file, value);
    const desc = describeWithTorch(file, true);
    expect(desc.root.type).toBe("OrderedDict");
    expect(compareTree(value, desc.root)).toEqual([]);
    expect(desc.n_distinct_storages).toBe(countStorages(value));
  });

  it("is read by torch with Python floats, ints, tuples, devices and bytes (weights_only=False: torch 1.13 rejects floats)", async () => {
    const file = path.join(tmp, "objects.pth");
    const value = {
      floats: [0.5, pyFloat(2), -0, 5e-324, -Infinity],
      ints: [1, -(2 ** 40), 2n ** 80n],
      tuple: PyTuple.ofItems(["a", PyTuple.ofItems([1, 2])]),
      device: new TorchDevice("cuda", 1),
      bytes: new Uint8Array([0, 255, 128]),
      intKeys: new Map([[3, "x"]]),
    };
    await saveTorchFile(file, value);
    const desc = describeWithTorch(file, false);
    const floats = (desc.root.entries as [unknown, { items: { type: string; value: unknown }[] }][])[0]![1].items;
    expect(floats.map((f) => [f.type, f.value])).toEqual([
      ["float", 0.5],
      ["float", 2],
      ["float", -0],
      ["float", 5e-324],
      ["float", "-inf"],
    ]);
    expect(compareTree(parseTorch(readFileSync(file)), desc.root)).toEqual([]);
  });

  it.each([
    ["zip_nested_state_dict", false],
    ["dtypes", true],
    ["shared_views", true],
    ["legacy", true],
    ["python_objects", false],
  ] as const)("re-written fixture %s.pth is read by torch like the original", async (name, weightsOnly) => {
    const original = await loadTorchFile(`${FIX}torch/${name}.pth`);
    const file = path.join(tmp, `${name}.pth`);
    await saveTorchFile(file, original);
    const desc = describeWithTorch(file, weightsOnly);
    const expected = JSON.parse(readFileSync(`${FIX}torch/${name}.expected.json`, "utf8"));
    expect(desc.n_distinct_storages).toBe(expected.n_distinct_storages);
    expect(compareTree(original, desc.root)).toEqual([]);
  });

  it("writes nn.Parameters that torch.load(weights_only=True) rebuilds as Parameters", async () => {
    const file = path.join(tmp, "param.pth");
    const p = TorchTensor.fromTypedArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
    p.isParameter = true;
    p.requiresGrad = true;
    await saveTorchFile(file, { p, plain: TorchTensor.fromTypedArray(new Float32Array([5]), [1]) });
    const desc = describeWithTorch(file, true);
    const entries = desc.root.entries as [unknown, { parameter?: boolean }][];
    expect(entries.map(([, v]) => v.parameter ?? false)).toEqual([true, false]);
    const back = parseTorch(readFileSync(file)) as { p: TorchTensor };
    expect([back.p.isParameter, back.p.requiresGrad, back.p.toNumbers()]).toEqual([true, true, [1, 2, 3, 4]]);
  });

  it("keeps a state dict's _metadata and torch reads a forced-zip64 archive", async () => {
    const sd = parseTorch(readFileSync(`${FIX}torch/plainconvunet_state_dict.pth`)) as object;
    expect((sd as { [PY_STATE]?: unknown })[PY_STATE]).toBeDefined();
    const file = path.join(tmp, "sd64.pth");
    await saveTorchFile(file, sd, { forceZip64: true });
    const desc = describeWithTorch(file, true) as unknown as { root: { metadata: { type: string } | null } };
    expect(desc.root.metadata?.type).toBe("OrderedDict");
    expect(compareTree(sd, desc.root as never)).toEqual([]);
  });
});

describe("saveTorchFile(file, value)", () => {
  it("writes atomically: a failed write leaves no file behind", async () => {
    const file = path.join(tmp, "bad.pth");
    await expect(saveTorchFile(file, { f: () => 1 })).rejects.toThrow("cannot write a function");
    expect(existsSync(file)).toBe(false);
  });
  it("refuses values it cannot represent", () => {
    expect(() => formatTorch({ d: new Date() })).toThrow("formatTorch: cannot write a Date");
    expect(() => formatTorch(CheckpointError)).toThrow();
  });
});
