// PNG read and write for NaturalImage2DIO. Reading gives what skimage.io.imread (imageio, Pillow) returns:
// (H, W) for grey and for palette images whose used entries are grey (imageio converts those to "L"), (H, W, 3) for
// RGB, (H, W, 4) for RGBA, (H, W, 2) for grey+alpha; 16-bit samples stay uint16. Colour palette images are refused:
// imageio versions disagree on them (Debian's 2.4 gives RGBA, imageio.v3 RGB), so the channel count is not defined. Writing: 8- or 16-bit greyscale,
// as skimage.io.imsave writes a uint8/uint16 segmentation.

import { crc32, deflateSync } from "node:zlib";
import { InputError } from "../errors.js";
import { checkedCount, inflateBounded, type RawArray } from "./raw-array.js";

const SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function isPng(bytes: Uint8Array): boolean {
  return SIG.every((b, i) => bytes[i] === b);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c,
    pa = Math.abs(p - a),
    pb = Math.abs(p - b),
    pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export async function parsePng(bytes: Uint8Array, file = "<png>"): Promise<RawArray> {
  if (!isPng(bytes)) throw new InputError("not a PNG file (bad signature)", { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  let w = 0,
    h = 0,
    depth = 0,
    ctype = -1,
    interlace = 0;
  let palette: Uint8Array | null = null,
    trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  while (p + 12 <= bytes.length) {
    const len = dv.getUint32(p);
    const type = new TextDecoder("latin1").decode(bytes.subarray(p + 4, p + 8));
    if (p + 12 + len > bytes.length) throw new InputError(`truncated PNG chunk ${type}`, { file });
    const body = bytes.subarray(p + 8, p + 8 + len);
    if (crc32(bytes.subarray(p + 4, p + 8 + len)) >>> 0 !== dv.getUint32(p + 8 + len)) throw new InputError(`PNG chunk ${type} fails its CRC`, { file });
    p += 12 + len;
    if (type === "IHDR") {
      const b = new DataView(body.buffer, body.byteOffset, body.byteLength);
      w = b.getUint32(0);
      h = b.getUint32(4);
      depth = body[8]!;
      ctype = body[9]!;
      interlace = body[12]!;
    } else if (type === "PLTE") palette = body;
    else if (type === "tRNS") trns = body;
    else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
  }
  const ch = CHANNELS[ctype];
  if (ch === undefined || ![1, 2, 4, 8, 16].includes(depth)) throw new InputError(`unsupported PNG colour type ${ctype} / bit depth ${depth}`, { file });
  if (interlace !== 0) throw new InputError("interlaced (Adam7) PNGs are not supported; save the image without interlacing", { file });
  if (depth < 8 && ctype !== 0 && ctype !== 3) throw new InputError(`invalid PNG bit depth ${depth} for colour type ${ctype}`, { file });
  if (ctype === 3 && !palette) throw new InputError("palette PNG without a PLTE chunk", { file });
  checkedCount([h, w, ch], depth === 16 ? 2 : 1, file);
  const bpp = Math.max(1, (ch * depth) >> 3);
  const stride = Math.ceil((w * ch * depth) / 8);
  const total = idat.reduce((a, b) => a + b.length, 0);
  const z = new Uint8Array(total);
  let o = 0;
  for (const c of idat) {
    z.set(c, o);
    o += c.length;
  }
  const raw = await inflateBounded(z, h * (stride + 1), "zlib", file);
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const outCh = ch;
  const sixteen = depth === 16;
  const out = sixteen ? new Uint16Array(h * w * outCh) : new Uint8Array(h * w * outCh);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)]!;
    if (f > 4) throw new InputError(`invalid PNG filter type ${f} in row ${y}`, { file });
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0,
        b = prev[i]!,
        c = i >= bpp ? prev[i - bpp]! : 0;
      const x = line[i]!;
      cur[i] = f === 0 ? x : f === 1 ? x + a : f === 2 ? x + b : f === 3 ? x + ((a + b) >> 1) : x + paeth(a, b, c);
    }
    for (let x = 0; x < w; x++) {
      if (ctype === 3) {
        out[y * w + x] = depth === 8 ? cur[x]! : (cur[(x * depth) >> 3]! >> (8 - depth - ((x * depth) & 7))) & ((1 << depth) - 1);
      } else if (depth < 8) {
        // Pillow reads 1/2/4-bit greyscale as "L" scaled to 0..255 ("1" for 1-bit, which numpy shows as 0/255 too)
        const v = (cur[(x * depth) >> 3]! >> (8 - depth - ((x * depth) & 7))) & ((1 << depth) - 1);
        out[y * w + x] = Math.round((v * 255) / ((1 << depth) - 1));
      } else {
        for (let k = 0; k < ch; k++) {
          const q = (x * ch + k) * (sixteen ? 2 : 1);
          out[(y * w + x) * ch + k] = sixteen ? (cur[q]! << 8) | cur[q + 1]! : cur[q]!;
        }
      }
    }
    prev.set(cur);
  }
  if (ctype === 3) greyPalette(out as Uint8Array, palette!, trns !== null, file);
  return { dtype: sixteen ? "uint16" : "uint8", shape: outCh === 1 ? [h, w] : [h, w, outCh], data: out };
}

/**
 * Replaces palette indices by their grey values when imageio's _palette_is_grayscale holds (no transparency, every
 * entry between the smallest and largest index used has r = g = b); refuses colour palettes (see the file comment).
 */
export function greyPalette(idx: Uint8Array, palette: Uint8Array, transparency: boolean, file: string): void {
  let lo = 255,
    hi = 0;
  for (const v of idx) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (3 * hi + 2 >= palette.length) throw new InputError(`palette index ${hi} beyond the palette`, { file });
  let grey = !transparency;
  for (let i = lo; i <= hi && grey; i++) grey = palette[3 * i] === palette[3 * i + 1] && palette[3 * i] === palette[3 * i + 2];
  if (!grey) {
    throw new InputError(
      "colour palette image: imageio versions read these as RGB or RGBA, so the channel count is undefined; " + "save it as greyscale, RGB or RGBA",
      { file },
    );
  }
  for (let i = 0; i < idx.length; i++) idx[i] = palette[3 * idx[i]!]!;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)) >>> 0);
  return out;
}

/** A greyscale PNG of an (H, W) uint8 or uint16 image (filter 0 on every row). */
export function formatPng(data: Uint8Array | Uint16Array, h: number, w: number): Uint8Array {
  const sixteen = data instanceof Uint16Array;
  const stride = w * (sixteen ? 2 : 1);
  const raw = new Uint8Array(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const o = y * (stride + 1) + 1;
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x]!;
      if (sixteen) {
        raw[o + 2 * x] = v >> 8;
        raw[o + 2 * x + 1] = v & 0xff;
      } else raw[o + x] = v;
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr[8] = sixteen ? 16 : 8;
  ihdr[9] = 0;
  const parts = [new Uint8Array(SIG), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
