// BMP read and write for NaturalImage2DIO, matching what skimage.io.imread (imageio, Pillow) returns: palette images
// whose used entries are grey are (H, W) grey values (colour palettes are refused, as for PNG), 24/32-bit images are
// (H, W, 3) RGB. Uncompressed (BI_RGB) files only. Writing: an 8-bit grey image with the grey-ramp
// palette, as Pillow saves a uint8 array.

import { InputError } from "../errors.js";
import { greyPalette } from "./png.js";
import { checkedCount, type RawArray } from "./raw-array.js";

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

export function parseBmp(bytes: Uint8Array, file = "<bmp>"): RawArray {
  if (!isBmp(bytes) || bytes.length < 26) throw new InputError("not a BMP file (no BM signature)", { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const hsize = dv.getUint32(14, true);
  let w: number,
    hRaw: number,
    bpp: number,
    compression = 0,
    colors = 0;
  if (hsize === 12) {
    w = dv.getUint16(18, true);
    hRaw = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
  } else if (hsize >= 40 && bytes.length >= 14 + 40) {
    w = dv.getInt32(18, true);
    hRaw = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colors = dv.getUint32(46, true);
  } else throw new InputError(`unsupported BMP header size ${hsize}`, { file });
  if (compression !== 0) throw new InputError(`compressed BMPs (compression ${compression}) are not supported; save it uncompressed or as PNG`, { file });
  if (![1, 4, 8, 24, 32].includes(bpp)) throw new InputError(`unsupported BMP bit depth ${bpp}`, { file });
  const h = Math.abs(hRaw);
  const bottomUp = hRaw > 0;
  checkedCount([h, w, 3], 1, file);
  const stride = Math.ceil((w * bpp) / 32) * 4;
  if (dataOffset + stride * h > bytes.length) throw new InputError(`truncated BMP pixel data (${bytes.length - dataOffset} of ${stride * h} bytes)`, { file });
  let pal: Uint8Array | null = null;
  if (bpp <= 8) {
    const n = colors || 1 << bpp;
    const entry = hsize === 12 ? 3 : 4;
    const start = 14 + hsize;
    if (n > 256 || start + n * entry > dataOffset) throw new InputError("BMP palette is too large or overlaps the pixel data", { file });
    pal = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      pal[3 * i] = bytes[start + i * entry + 2]!;
      pal[3 * i + 1] = bytes[start + i * entry + 1]!;
      pal[3 * i + 2] = bytes[start + i * entry]!;
    }
  }
  const ch = pal ? 1 : 3;
  const out = new Uint8Array(h * w * ch);
  for (let r = 0; r < h; r++) {
    const row = dataOffset + (bottomUp ? h - 1 - r : r) * stride;
    for (let x = 0; x < w; x++) {
      const q = (r * w + x) * ch;
      if (bpp <= 8) {
        out[q] = bpp === 8 ? bytes[row + x]! : (bytes[row + ((x * bpp) >> 3)]! >> (8 - bpp - ((x * bpp) & 7))) & ((1 << bpp) - 1);
      } else {
        const s = row + x * (bpp >> 3);
        out[q] = bytes[s + 2]!;
        out[q + 1] = bytes[s + 1]!;
        out[q + 2] = bytes[s]!;
      }
    }
  }
  if (pal) greyPalette(out, pal, false, file);
  return { dtype: "uint8", shape: ch === 1 ? [h, w] : [h, w, 3], data: out };
}

/** An 8-bit BMP of an (H, W) uint8 image with the grey-ramp palette (bottom-up rows, as Pillow writes). */
export function formatBmp(data: Uint8Array, h: number, w: number): Uint8Array {
  const stride = Math.ceil(w / 4) * 4;
  const offset = 14 + 40 + 256 * 4;
  const out = new Uint8Array(offset + stride * h);
  const dv = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  dv.setUint32(2, out.length, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, 40, true);
  dv.setInt32(18, w, true);
  dv.setInt32(22, h, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 8, true);
  dv.setUint32(34, stride * h, true);
  dv.setInt32(38, 2835, true);
  dv.setInt32(42, 2835, true);
  dv.setUint32(46, 256, true);
  dv.setUint32(50, 256, true);
  for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 54 + 4 * i);
  for (let r = 0; r < h; r++) out.set(data.subarray(r * w, (r + 1) * w), offset + (h - 1 - r) * stride);
  return out;
}
