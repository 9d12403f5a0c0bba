// Reads preprocessed cases (<case>.npy float32 (C,Z,Y,X), <case>_seg.npy int16, <case>.json with class_locations) for
// the data loader, with a small byte-bounded cache: nnU-Net memory-maps its blosc2 files, we keep recently used cases
// in memory instead (each worker thread has its own cache).

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { parseNpy, type NpyArray } from "../io/npy.js";
import { readJson } from "../util/fs.js";
import { InputError } from "../errors.js";
import type { CaseArrays } from "./data-loader.js";

/**
 * Reads a .npy file. The bytes are copied into a plain Uint8Array first: sdk/io/npy.ts' parseNpy takes
 * `bytes.slice(...).buffer`, which for a Node Buffer is a view of the whole file (header included), not a copy.
 */
export async function readNpy(file: string): Promise<NpyArray> {
  let buf: Buffer;
  try { buf = await fsp.readFile(file); } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  return parseNpy(new Uint8Array(buf), file);
}

/** Loads one case of `folder` (the `<data_identifier>` folder of nnUNet_preprocessed/DatasetXXX). */
export async function readCaseArrays(folder: string, id: string): Promise<CaseArrays> {
  const dataFile = path.join(folder, `${id}.npy`);
  const segFile = path.join(folder, `${id}_seg.npy`);
  const data = await readNpy(dataFile);
  const seg = await readNpy(segFile);
  if (!(data.data instanceof Float32Array)) throw new InputError(`expected float32 data, got ${data.dtype}`, { file: dataFile });
  if (data.shape.length !== 4) throw new InputError(`expected shape (C, Z, Y, X), got [${data.shape}]`, { file: dataFile });
  const segShape = seg.shape.slice(1);
  if (seg.shape[0] !== 1 || segShape.some((s, i) => s !== data.shape[i + 1])) {
    throw new InputError(`seg shape [${seg.shape}] does not match data shape [${data.shape}]`, { file: segFile });
  }
  const segData = seg.data instanceof Int16Array ? seg.data : Int16Array.from(seg.data as ArrayLike<number>);
  const props = await readJson<{ class_locations?: Record<string, number[][]> }>(path.join(folder, `${id}.json`));
  return { id, data: data.data, seg: segData, shape: data.shape.slice(), classLocations: props.class_locations ?? {} };
}

/** A least-recently-used cache of cases, bounded in bytes (at least one case is always kept). */
export class CaseCache {
  private readonly entries = new Map<string, Promise<CaseArrays>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  constructor(private readonly folder: string, private readonly maxBytes = 2 ** 30) {}

  get(id: string): Promise<CaseArrays> {
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const p = readCaseArrays(this.folder, id);
    this.entries.set(id, p);
    void p.then((c) => {
      const b = c.data.byteLength + c.seg.byteLength;
      this.sizes.set(id, b);
      this.bytes += b;
      for (const k of this.entries.keys()) {
        if (this.bytes <= this.maxBytes || k === id) break;
        this.entries.delete(k);
        this.bytes -= this.sizes.get(k) ?? 0;
        this.sizes.delete(k);
      }
    }, () => this.entries.delete(id));
    return p;
  }
}
