// Reads preprocessed cases (<case>.npy float32 (C,Z,Y,X), <case>_seg.npy int16, <case>.json with class_locations; or
// Python nnU-Net master's <case>.npz + <case>.pkl, see sdk/preprocessing/nnunet-format.ts) for the data loader, with
// a small byte-bounded cache: nnU-Net memory-maps its blosc2 files, we keep recently used cases in memory instead (each worker thread has its own cache).

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { parseNpy, type NpyArray } from "../io/npy.js";
import { exists } from "../util/fs.js";
import { readPreprocessedArrays, readPreprocessedProperties } from "../preprocessing/preprocessed-dataset.js";
import { InputError } from "../errors.js";
import type { CaseArrays } from "./data-loader.js";

/**
 * Reads a .npy file. The bytes are copied into a plain Uint8Array first: sdk/io/npy.ts' parseNpy takes
 * `bytes.slice(...).buffer`, which for a Node Buffer is a view of the whole file (header included), not a copy.
 */
export async function readNpy(file: string): Promise<NpyArray> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  return parseNpy(new Uint8Array(buf), file);
}

/** Loads one case of `folder` (the `<data_identifier>` folder of nnUNet_preprocessed/DatasetXXX). */
export async function readCaseArrays(folder: string, id: string): Promise<CaseArrays> {
  let dataFile = path.join(folder, `${id}.npy`);
  let segFile = path.join(folder, `${id}_seg.npy`);
  let data: NpyArray, seg: NpyArray;
  if ((await exists(dataFile)) && (await exists(segFile))) {
    [data, seg] = [await readNpy(dataFile), await readNpy(segFile)];
  } else {
    const a = await readPreprocessedArrays(folder, id);
    if (!a.seg) throw new InputError("no segmentation (_seg.npy, or 'seg' in the .npz)", { file: a.segFile });
    [data, seg, dataFile, segFile] = [a.data, a.seg, a.dataFile, a.segFile];
  }
  if (!(data.data instanceof Float32Array)) throw new InputError(`expected float32 data, got ${data.dtype}`, { file: dataFile });
  if (data.shape.length !== 4) throw new InputError(`expected shape (C, Z, Y, X), got [${data.shape}]`, { file: dataFile });
  const segShape = seg.shape.slice(1);
  if (seg.shape[0] !== 1 || segShape.some((s, i) => s !== data.shape[i + 1])) {
    throw new InputError(`seg shape [${seg.shape}] does not match data shape [${data.shape}]`, { file: segFile });
  }
  const segData = seg.data instanceof Int16Array ? seg.data : Int16Array.from(seg.data as ArrayLike<number>);
  const props = await readPreprocessedProperties(folder, id);
  return { id, data: data.data, seg: segData, shape: data.shape.slice(), classLocations: props.class_locations ?? {} };
}

/** A least-recently-used cache of cases, bounded in bytes (at least one case is always kept). */
export class CaseCache {
  private readonly entries = new Map<string, Promise<CaseArrays>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  constructor(
    private readonly folder: string,
    private readonly maxBytes = 2 ** 30,
  ) {}

  get(id: string): Promise<CaseArrays> {
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const p = readCaseArrays(this.folder, id);
    this.entries.set(id, p);
    void p.then(
      (c) => {
        const b = c.data.byteLength + c.seg.byteLength;
        this.sizes.set(id, b);
        this.bytes += b;
        for (const k of this.entries.keys()) {
          if (this.bytes <= this.maxBytes || k === id) break;
          this.entries.delete(k);
          this.bytes -= this.sizes.get(k) ?? 0;
          this.sizes.delete(k);
        }
      },
      () => this.entries.delete(id),
    );
    return p;
  }
}
