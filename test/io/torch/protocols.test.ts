// Files written by real torch in ways the fixtures do not cover: pickle protocols 3-5 (BINBYTES, SHORT_BINUNICODE,
// MEMOIZE, FRAME, sets), nn.Parameters, deflated zip entries and another archive prefix (repacked by Python's zipfile).
// Each is read by our reader and compared with what torch itself loads.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseTorch, TorchTensor } from "../../../sdk/io/torch/index.js";
import { ZipArchive } from "../../../sdk/io/torch/zip-read.js";
import { zipChunks } from "../../../sdk/io/torch/zip-write.js";
import { pickleForTorch } from "../../../sdk/io/torch/pickle-write.js";
import { pythonSkipReason, runPython } from "../../helpers/python.js";
import { compareTree } from "./expected-tree.js";
import { describeWithTorch } from "./torch-oracle.js";

const skip = pythonSkipReason(["torch"]);
const tmp = mkdtempSync(path.join(tmpdir(), "nnssl-torch-proto-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MAKE = String.raw`
import sys, collections, torch, zipfile
out, proto = sys.argv[1], int(sys.argv[2])
base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
obj = collections.OrderedDict([
  ("w", base), ("t", base.transpose(0, 2)), ("half", torch.tensor([1.5, -2.0], dtype=torch.float16)),
  ("param", torch.nn.Parameter(torch.ones(2, 2))), ("i64", torch.tensor([2**62, -3])),
  ("meta", {"bytes": b"\x00\xff", "n": 3, "s": "str", "tuple": (1, (2, "x")), "none": None, 7: "int key"}),
])
torch.save(obj, out, pickle_protocol=proto)
if len(sys.argv) > 3:  # repack: deflate every member and rename the archive folder
    src = zipfile.ZipFile(out)
    with zipfile.ZipFile(sys.argv[3], "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for n in src.namelist():
            dst.writestr("renamed_prefix/" + n.split("/", 1)[1], src.read(n))
`;

describe.skipIf(skip !== null)(`parseTorch(file written by torch)${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it.each([2, 3, 4, 5])("reads pickle protocol %i like torch.load", (proto) => {
    const file = path.join(tmp, `p${proto}.pth`);
    runPython(MAKE, [file, String(proto)]);
    const ours = parseTorch(readFileSync(file), file) as Record<string, unknown>;
    const desc = describeWithTorch(file, false);
    expect(compareTree(ours, desc.root)).toEqual([]);
    expect((ours.param as TorchTensor).isParameter).toBe(true);
    expect((ours.param as TorchTensor).requiresGrad).toBe(true);
    expect(desc.n_distinct_storages).toBe(4); // w and its transpose share one
  });

  it("reads deflated members under another archive prefix", () => {
    const file = path.join(tmp, "plain.pth");
    const repacked = path.join(tmp, "deflated.pth");
    runPython(MAKE, [file, "2", repacked]);
    const bytes = readFileSync(repacked);
    const zip = new ZipArchive(new Uint8Array(bytes), repacked);
    expect([...zip.entries.values()].every((e) => e.method === 8 && e.name.startsWith("renamed_prefix/"))).toBe(true);
    const ours = parseTorch(bytes, repacked, { verifyCrc: true });
    expect(compareTree(ours, describeWithTorch(file, false).root)).toEqual([]);
  });
});

const NNUNET_CKPT = String.raw`
import sys, torch, numpy as np
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.InstanceNorm3d(4, affine=True), torch.nn.Conv3d(4, 2, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)
net(torch.randn(1, 1, 5, 5, 5)).sum().backward(); opt.step()
ckpt = {"network_weights": net.state_dict(), "optimizer_state": opt.state_dict(),
        "grad_scaler_state": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 3},
        "logging": {"mean_fg_dice": [np.float64(0.5), np.float64(0.75)], "ema_fg_dice": [np.float64(0.5)], "dice_per_class_or_region": [[np.float64(0.1), np.float64(0.9)]],
                    "train_losses": [-0.25], "epoch_start_timestamps": [1700000000.5]},
        "_best_ema": np.float64(0.625), "current_epoch": 2,
        "init_args": {"plans": {"configurations": {"3d_fullres": {"patch_size": [32, 32, 32]}}}, "configuration": "3d_fullres", "fold": 0,
                      "dataset_json": {"labels": {"background": 0, "a": 1}}, "device": torch.device("cuda", 0)},
        "trainer_name": "nnUNetTrainer", "inference_allowed_mirroring_axes": (0, 1, 2)}
torch.save(ckpt, sys.argv[1])
`;

describe.skipIf(skip !== null)(`parseTorch(nnU-Net training checkpoint)${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("reads optimizer state (int-keyed dicts), numpy logging values, grad scaler and init_args like torch.load", () => {
    const file = path.join(tmp, "nnunet.pth");
    runPython(NNUNET_CKPT, [file]);
    const ours = parseTorch(readFileSync(file), file) as Record<string, any>;
    expect(compareTree(ours, describeWithTorch(file, false).root)).toEqual([]);
    expect(ours.optimizer_state.state).toBeInstanceOf(Map);
    expect(ours.logging.mean_fg_dice).toEqual([0.5, 0.75]);
    expect(String(ours.init_args.device)).toBe("cuda:0");
  });
});

describe("parseTorch(unaligned or big-endian bytes)", () => {
  it("copies storages that are not aligned in memory and still reads exact values", () => {
    const src = readFileSync(new URL("../../fixtures/torch/dtypes.pth", import.meta.url));
    const shifted = new Uint8Array(src.length + 1);
    shifted.set(src, 1);
    const a = parseTorch(src) as Record<string, TorchTensor>;
    const b = parseTorch(shifted.subarray(1)) as Record<string, TorchTensor>;
    for (const k of Object.keys(a)) {
      expect(Array.from(b[k]!.toTypedArray() as ArrayLike<number>)).toEqual(Array.from(a[k]!.toTypedArray() as ArrayLike<number>));
      expect(b[k]!.storage.data.byteOffset % b[k]!.storage.data.BYTES_PER_ELEMENT).toBe(0);
    }
  });
});

describe("parseTorch(byteorder big)", () => {
  it("swaps storages of files marked big-endian", () => {
    const t = TorchTensor.fromTypedArray(new Int16Array([1, 256, -2]), [3]);
    const f = TorchTensor.fromTypedArray(new Float64Array([1.5, -0.25]), [2]);
    const { pickle, storages } = pickleForTorch({ t, f });
    const be = storages.map((s) => {
      const b = new Uint8Array(s.data.buffer.slice(s.data.byteOffset, s.data.byteOffset + s.data.byteLength));
      for (let i = 0; i < b.length; i += s.data.BYTES_PER_ELEMENT) b.subarray(i, i + s.data.BYTES_PER_ELEMENT).reverse();
      return b;
    });
    const enc = new TextEncoder();
    const bytes = Buffer.concat(
      zipChunks([
        { name: "a/data.pkl", data: pickle },
        { name: "a/byteorder", data: enc.encode("big") },
        ...be.map((data, i) => ({ name: `a/data/${i}`, data })),
        { name: "a/version", data: enc.encode("3\n") },
      ]),
    );
    const back = parseTorch(bytes) as { t: TorchTensor; f: TorchTensor };
    expect(Array.from(back.t.toTypedArray() as Int16Array)).toEqual([1, 256, -2]);
    expect(Array.from(back.f.toTypedArray() as Float64Array)).toEqual([1.5, -0.25]);
  });
});
