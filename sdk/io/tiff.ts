// TIFF read and write for NaturalImage2DIO (2-d .tif) and Tiff3DIO (3-d .tif/.tiff). Reading gives what
// tifffile.imread returns for baseline files: one page is (H, W), (H, W, S) or, with separate sample planes, (S, H, W); several pages of one shape are stacked
// to (pages, H, W[, S]). Strips, uncompressed / deflate (8, 32946) / LZW (5) / PackBits, horizontal predictor,
// unsigned/signed integer and float samples, classic (not Big-) TIFF in either byte order. Writing: one page per z
// slice, one strip per page, deflate-compressed, as `tifffile.imwrite(f, seg, compression='zlib')` does.

import { deflateSync } from "node:zlib";
import { InputError } from "../errors.js";
import { allocArray, checkedCount, DTYPE_BYTES, inflateBounded, MAX_IMAGE_BYTES, type ArrayDtype, type RawArray, type RawTypedArray } from "./raw-array.js";

export function isTiff(b: Uint8Array): boolean {
  return b.length >= 8 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42));
}

interface Page {
  w: number;
  h: number;
  spp: number;
  bits: number;
  format: number;
  compression: number;
  predictor: number;
  planar: number;
  photometric: number;
  offsets: number[];
  counts: number[];
  rowsPerStrip: number;
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8 };
const MAX_PAGES = 1 << 16;

function dtypeOf(bits: number, format: number, file: string): ArrayDtype {
  const key = `${format}:${bits}`;
  const m: Record<string, ArrayDtype> = {
    "1:8": "uint8",
    "1:16": "uint16",
    "1:32": "uint32",
    "1:64": "uint64",
    "2:8": "int8",
    "2:16": "int16",
    "2:32": "int32",
    "2:64": "int64",
    "3:32": "float32",
    "3:64": "float64",
  };
  const d = m[key];
  if (!d) throw new InputError(`unsupported TIFF sample format ${format} with ${bits} bits per sample`, { file });
  return d;
}

function readPages(b: Uint8Array, file: string): { pages: Page[]; little: boolean } {
  const little = b[0] === 0x49;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (p: number) => dv.getUint16(p, little);
  const u32 = (p: number) => dv.getUint32(p, little);
  const pages: Page[] = [];
  const seen = new Set<number>();
  let ifd = u32(4);
  while (ifd !== 0) {
    if (seen.has(ifd) || ifd + 2 > b.length) throw new InputError(`TIFF directory offset ${ifd} is invalid or repeats`, { file });
    if (pages.length >= MAX_PAGES) throw new InputError(`more than ${MAX_PAGES} TIFF pages`, { file });
    seen.add(ifd);
    const n = u16(ifd);
    if (ifd + 2 + 12 * n + 4 > b.length) throw new InputError("truncated TIFF directory", { file });
    const tags = new Map<number, number[]>();
    for (let k = 0; k < n; k++) {
      const e = ifd + 2 + 12 * k;
      const tag = u16(e),
        type = u16(e + 2),
        count = u32(e + 4);
      const size = TYPE_SIZE[type];
      if (!size || (type !== 3 && type !== 4 && type !== 16 && type !== 1)) continue;
      const total = size * count;
      const at = total <= 4 ? e + 8 : u32(e + 8);
      if (at + total > b.length || count > b.length) throw new InputError(`TIFF tag ${tag} points beyond the file`, { file });
      const vals: number[] = [];
      for (let i = 0; i < count; i++) {
        const q = at + i * size;
        vals.push(type === 1 ? b[q]! : type === 3 ? u16(q) : type === 4 ? u32(q) : Number(dv.getBigUint64(q, little)));
      }
      tags.set(tag, vals);
    }
    const one = (t: number, d?: number) => {
      const v = tags.get(t)?.[0] ?? d;
      if (v === undefined) throw new InputError(`TIFF page ${pages.length} lacks tag ${t}`, { file });
      return v;
    };
    if (tags.has(322) || tags.has(324)) throw new InputError("tiled TIFFs are not supported (save with strips, e.g. tifffile.imwrite without tile=)", { file });
    const bitsAll = tags.get(258) ?? [1];
    if (bitsAll.some((x) => x !== bitsAll[0])) throw new InputError("TIFF samples of different bit depths are not supported", { file });
    const h = one(257);
    pages.push({
      w: one(256),
      h,
      spp: one(277, 1),
      bits: bitsAll[0]!,
      format: one(339, 1),
      compression: one(259, 1),
      predictor: one(317, 1),
      planar: one(284, 1),
      photometric: one(262, 1),
      offsets: tags.get(273) ?? [],
      counts: tags.get(279) ?? [],
      rowsPerStrip: Math.min(one(278, h), h),
    });
    ifd = u32(ifd + 2 + 12 * n);
  }
  if (pages.length === 0) throw new InputError("TIFF has no pages", { file });
  return { pages, little };
}

function lzwDecode(src: Uint8Array, expected: number, file: string): Uint8Array {
  const out = new Uint8Array(expected);
  let o = 0;
  const prefix = new Int32Array(4096),
    suffix = new Uint8Array(4096),
    length = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    length[i] = 1;
  }
  let next = 258,
    width = 9,
    bitPos = 0,
    prev = -1;
  const stack = new Uint8Array(4096);
  const total = src.length * 8;
  while (bitPos + width <= total) {
    let code = 0;
    for (let i = 0; i < width; i++) {
      const bit = (src[(bitPos + i) >> 3]! >> (7 - ((bitPos + i) & 7))) & 1;
      code = (code << 1) | bit;
    }
    bitPos += width;
    if (code === 257) break;
    if (code === 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    let first: number;
    if (code < next) {
      let c = code,
        sp = 0;
      while (c >= 0) {
        stack[sp++] = suffix[c]!;
        c = prefix[c]!;
      }
      first = stack[sp - 1]!;
      while (sp > 0 && o < expected) out[o++] = stack[--sp]!;
      if (prev >= 0 && next < 4096) {
        prefix[next] = prev;
        suffix[next] = first;
        length[next] = length[prev]! + 1;
        next++;
      }
    } else if (code === next && prev >= 0) {
      let c = prev,
        sp = 0;
      while (c >= 0) {
        stack[sp++] = suffix[c]!;
        c = prefix[c]!;
      }
      first = stack[sp - 1]!;
      while (sp > 0 && o < expected) out[o++] = stack[--sp]!;
      if (o < expected) out[o++] = first;
      if (next < 4096) {
        prefix[next] = prev;
        suffix[next] = first;
        length[next] = length[prev]! + 1;
        next++;
      }
    } else throw new InputError("corrupt LZW data in TIFF strip", { file });
    prev = code;
    // TIFF's LZW switches width one code early
    if (next + 1 >= 1 << width && width < 12) width++;
    if (o >= expected) break;
  }
  return out.subarray(0, o);
}

function packBits(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let i = 0,
    o = 0;
  while (i < src.length && o < expected) {
    const n = (src[i++]! << 24) >> 24;
    if (n >= 0) {
      for (let k = 0; k <= n && o < expected && i < src.length; k++) out[o++] = src[i++]!;
    } else if (n !== -128) {
      const v = src[i++]!;
      for (let k = 0; k < 1 - n && o < expected; k++) out[o++] = v;
    }
  }
  return out.subarray(0, o);
}

async function decodeStrip(p: Page, raw: Uint8Array, expected: number, file: string): Promise<Uint8Array> {
  switch (p.compression) {
    case 1:
      return raw.subarray(0, expected);
    case 8:
    case 32946:
      return inflateBounded(raw, expected, "zlib", file);
    case 5:
      return lzwDecode(raw, expected, file);
    case 32773:
      return packBits(raw, expected);
    default:
      throw new InputError(`unsupported TIFF compression ${p.compression} (none, deflate, LZW and PackBits are supported)`, { file });
  }
}

/** Reads all pages; `file` only names the source in errors. */
export async function parseTiff(b: Uint8Array, file = "<tiff>"): Promise<RawArray> {
  if (!isTiff(b)) throw new InputError("not a TIFF file (bad header; BigTIFF is not supported)", { file });
  const { pages, little } = readPages(b, file);
  const p0 = pages[0]!;
  for (const [k, p] of pages.entries()) {
    if (p.w !== p0.w || p.h !== p0.h || p.spp !== p0.spp || p.bits !== p0.bits || p.format !== p0.format || p.planar !== p0.planar) {
      throw new InputError(
        `TIFF page ${k} is ${p.h}x${p.w}x${p.spp} (${p.bits} bit), page 0 ${p0.h}x${p0.w}x${p0.spp} (${p0.bits} bit): pages of different shapes are not supported`,
        { file },
      );
    }
  }
  const dtype = dtypeOf(p0.bits, p0.format, file);
  const size = DTYPE_BYTES[dtype];
  const perPage = checkedCount([p0.h, p0.w, p0.spp], size, file);
  const n = checkedCount([pages.length, perPage], size, file);
  if (n * size > MAX_IMAGE_BYTES) throw new InputError("TIFF too large", { file });
  // what the strips can expand to at most, checked before allocating (a small file cannot declare gigabytes)
  const maxRatio: Record<number, number> = { 1: 1, 8: 1032, 32946: 1032, 5: 4096, 32773: 64 };
  for (const [k, p] of pages.entries()) {
    const stored = p.counts.reduce((a, c) => a + c, 0);
    if (stored * (maxRatio[p.compression] ?? 1032) + 1024 < perPage * size) {
      throw new InputError(`TIFF page ${k} declares ${perPage * size} bytes but its strips hold only ${stored} bytes`, { file });
    }
  }
  const out = allocArray(dtype, n);
  const outBytes = new Uint8Array(out.buffer);
  for (const [k, p] of pages.entries()) {
    const planes = p.planar === 2 ? p.spp : 1;
    const sampPerPix = p.planar === 2 ? 1 : p.spp;
    const rowBytes = p.w * sampPerPix * size;
    const stripsPerPlane = Math.ceil(p.h / p.rowsPerStrip);
    if (p.offsets.length !== stripsPerPlane * planes || p.counts.length !== p.offsets.length) {
      throw new InputError(`TIFF page ${k} has ${p.offsets.length} strip offsets and ${p.counts.length} byte counts, expected ${stripsPerPlane * planes}`, {
        file,
      });
    }
    const plane = new Uint8Array(p.h * rowBytes);
    for (let pl = 0; pl < planes; pl++) {
      for (let s = 0; s < stripsPerPlane; s++) {
        const i = pl * stripsPerPlane + s;
        const off = p.offsets[i]!,
          cnt = p.counts[i]!;
        if (off + cnt > b.length) throw new InputError(`TIFF strip ${i} of page ${k} lies beyond the end of the file`, { file });
        const rows = Math.min(p.rowsPerStrip, p.h - s * p.rowsPerStrip);
        const dec = await decodeStrip(p, b.subarray(off, off + cnt), rows * rowBytes, file);
        if (dec.length < rows * rowBytes) throw new InputError(`truncated TIFF strip ${i} of page ${k} (${dec.length} of ${rows * rowBytes} bytes)`, { file });
        plane.set(dec.subarray(0, rows * rowBytes), s * p.rowsPerStrip * rowBytes);
      }
      const typed = toNative(plane, dtype, little);
      if (p.predictor === 2) undoHorizontalPredictor(typed, p.h, p.w, sampPerPix);
      else if (p.predictor !== 1) throw new InputError(`unsupported TIFF predictor ${p.predictor}`, { file });
      // planar (separate) samples come out sample-major, (S, H, W), as tifffile returns them; contiguous ones (H, W, S)
      outBytes.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), (k * perPage + pl * p.h * p.w) * size);
    }
  }
  return { dtype, shape: pageShape(pages), data: out };
}

function pageShape(pages: Page[]): number[] {
  const p0 = pages[0]!;
  const one = p0.spp === 1 ? [p0.h, p0.w] : p0.planar === 2 ? [p0.spp, p0.h, p0.w] : [p0.h, p0.w, p0.spp];
  return pages.length > 1 ? [pages.length, ...one] : one;
}

function toNative(bytes: Uint8Array, dtype: ArrayDtype, little: boolean): RawTypedArray {
  const size = DTYPE_BYTES[dtype];
  const out = allocArray(dtype, bytes.length / size);
  const o = new Uint8Array(out.buffer);
  o.set(bytes);
  if (!little && size > 1) for (let i = 0; i < o.length; i += size) o.subarray(i, i + size).reverse();
  return out;
}

function undoHorizontalPredictor(a: RawTypedArray, h: number, w: number, spp: number): void {
  if (a instanceof Float32Array || a instanceof Float64Array || a instanceof BigInt64Array || a instanceof BigUint64Array) return;
  for (let y = 0; y < h; y++) {
    const row = y * w * spp;
    for (let x = 1; x < w; x++) for (let s = 0; s < spp; s++) a[row + x * spp + s] = a[row + x * spp + s]! + a[row + (x - 1) * spp + s]!;
  }
}

/**
 * A TIFF of `pages` (H, W) greyscale pages (uint8 or uint16), one deflate strip each, with tifffile's
 * `{"shape": [...]}` description on the first page so tifffile reads back the same shape.
 */
export function formatTiff(data: Uint8Array | Uint16Array, shape: number[]): Uint8Array {
  const [pages, h, w] = shape.length === 2 ? [1, shape[0]!, shape[1]!] : [shape[0]!, shape[1]!, shape[2]!];
  const bits = data instanceof Uint16Array ? 16 : 8;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const pageBytes = h * w * (bits / 8);
  const desc = new TextEncoder().encode(`{"shape": [${shape.join(", ")}]}\0`);
  const strips = Array.from({ length: pages }, (_, k) => deflateSync(bytes.subarray(k * pageBytes, (k + 1) * pageBytes)));
  const nTags = 12;
  const ifdSize = 2 + nTags * 12 + 4;
  let size = 8 + desc.length;
  const stripAt: number[] = [];
  for (const s of strips) {
    stripAt.push(size);
    size += s.length + (s.length & 1);
  }
  const ifdAt: number[] = [];
  for (let k = 0; k < pages; k++) {
    ifdAt.push(size);
    size += ifdSize;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, ifdAt[0]!, true);
  out.set(desc, 8);
  strips.forEach((s, k) => out.set(s, stripAt[k]!));
  for (let k = 0; k < pages; k++) {
    let p = ifdAt[k]!;
    dv.setUint16(p, nTags, true);
    p += 2;
    const tag = (t: number, type: number, count: number, value: number) => {
      dv.setUint16(p, t, true);
      dv.setUint16(p + 2, type, true);
      dv.setUint32(p + 4, count, true);
      if (type === 3 && count === 1) dv.setUint16(p + 8, value, true);
      else dv.setUint32(p + 8, value, true);
      p += 12;
    };
    tag(254, 4, 1, 0);
    tag(256, 4, 1, w);
    tag(257, 4, 1, h);
    tag(258, 3, 1, bits);
    tag(259, 3, 1, 8);
    tag(262, 3, 1, 1);
    tag(270, 2, k === 0 ? desc.length : 1, k === 0 ? 8 : 0);
    tag(273, 4, 1, stripAt[k]!);
    tag(277, 3, 1, 1);
    tag(278, 4, 1, h);
    tag(279, 4, 1, strips[k]!.length);
    tag(339, 3, 1, 1);
    dv.setUint32(p, k + 1 < pages ? ifdAt[k + 1]! : 0, true);
  }
  return out;
}

/** The array shape parseTiff would return, from the directories alone (to pick NaturalImage2DIO or Tiff3DIO). */
export function tiffArrayShape(b: Uint8Array, file = "<tiff>"): number[] {
  if (!isTiff(b)) throw new InputError("not a TIFF file (bad header; BigTIFF is not supported)", { file });
  return pageShape(readPages(b, file).pages);
}
