// A reader of blosc2 .b2nd arrays (what Python nnU-Net master's nnUNetDatasetBlosc2 writes for preprocessed cases),
// from the documented formats in c-blosc2: README_CFRAME_FORMAT.rst (contiguous frame: msgpack header with the
// "b2nd" metalayer, chunks, an index chunk of int64 offsets), README_CHUNK_FORMAT.rst (chunk header, block starts,
// compressed streams, special values) and README_B2ND_METALAYER.rst (shape, chunk shape, block shape, dtype).
// Codecs: LZ4/LZ4HC (master's choice), BloscLZ (blosc2's default, used for the index chunk), zlib; filters: none and
// byte shuffle (master picks one of the two per array).
// Read-only and bounded: every size comes from the file, so each is checked against the bytes present before use.

import { inflateSync } from "node:zlib";
import { InputError } from "../errors.js";
import { checkedCount, type ArrayDtype, type RawArray } from "./raw-array.js";

const MAGIC = "b2frame\0";
const DTYPES: Record<string, ArrayDtype> = {
  "<f4": "float32",
  "<f8": "float64",
  "|i1": "int8",
  "|u1": "uint8",
  "<i2": "int16",
  "<u2": "uint16",
  "<i4": "int32",
  "<u4": "uint32",
  "<i8": "int64",
  "<u8": "uint64",
};
const SIZES: Record<ArrayDtype, number> = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8, int64: 8, uint64: 8 };

export function isB2nd(b: Uint8Array): boolean {
  return b.length > 16 && new TextDecoder("latin1").decode(b.subarray(2, 10)) === MAGIC;
}

/** A tiny msgpack reader for the metalayer (ints, strings, arrays, bin). */
class MsgPack {
  private dv: DataView;
  constructor(
    private readonly b: Uint8Array,
    public p: number,
    private readonly file: string,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number): void {
    if (this.p + n > this.b.length) throw new InputError("truncated blosc2 metadata", { file: this.file });
  }
  read(): unknown {
    this.need(1);
    const t = this.b[this.p++]!;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 256;
    if ((t & 0xf0) === 0x90) return Array.from({ length: t & 0x0f }, () => this.read());
    if ((t & 0xe0) === 0xa0) return this.str(t & 0x1f);
    const dv = this.dv;
    const take = (n: number) => {
      this.need(n);
      const at = this.p;
      this.p += n;
      return at;
    };
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcc:
        return dv.getUint8(take(1));
      case 0xcd:
        return dv.getUint16(take(2));
      case 0xce:
        return dv.getUint32(take(4));
      case 0xcf:
        return Number(dv.getBigUint64(take(8)));
      case 0xd0:
        return dv.getInt8(take(1));
      case 0xd1:
        return dv.getInt16(take(2));
      case 0xd2:
        return dv.getInt32(take(4));
      case 0xd3:
        return Number(dv.getBigInt64(take(8)));
      case 0xd9:
        return this.str(dv.getUint8(take(1)));
      case 0xda:
        return this.str(dv.getUint16(take(2)));
      case 0xdb:
        return this.str(dv.getUint32(take(4)));
      case 0xc4: {
        const n = dv.getUint8(take(1));
        return this.b.subarray(take(n), this.p);
      }
      case 0xc6: {
        const n = dv.getUint32(take(4));
        return this.b.subarray(take(n), this.p);
      }
      case 0xdc: {
        const n = dv.getUint16(take(2));
        return Array.from({ length: n }, () => this.read());
      }
      default:
        throw new InputError(`unsupported msgpack type 0x${t.toString(16)} in blosc2 metadata`, { file: this.file });
    }
  }
  private str(n: number): string {
    this.need(n);
    const s = new TextDecoder("latin1").decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
}

/** LZ4 block decompression into `out` (exactly out.length bytes expected). */
function lz4Decode(src: Uint8Array, out: Uint8Array, file: string): void {
  let i = 0,
    o = 0;
  const fail = (): never => {
    throw new InputError("corrupt LZ4 data in a blosc2 chunk", { file });
  };
  while (i < src.length) {
    const token = src[i++]!;
    let lit = token >> 4;
    if (lit === 15) {
      let b;
      do {
        if (i >= src.length) fail();
        b = src[i++]!;
        lit += b;
      } while (b === 255);
    }
    if (i + lit > src.length || o + lit > out.length) fail();
    out.set(src.subarray(i, i + lit), o);
    i += lit;
    o += lit;
    if (i >= src.length) break;
    if (i + 2 > src.length) fail();
    const off = src[i]! | (src[i + 1]! << 8);
    i += 2;
    let len = token & 15;
    if (len === 15) {
      let b;
      do {
        if (i >= src.length) fail();
        b = src[i++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (off === 0 || off > o || o + len > out.length) fail();
    if (off >= len) {
      out.copyWithin(o, o - off, o - off + len);
      o += len;
    } else {
      for (let k = 0; k < len; k++, o++) out[o] = out[o - off]!;
    }
  }
  if (o !== out.length) fail();
}

/** BloscLZ decompression (blosclz.c's blosclz_decompress, step by step) into `out`. */
function blosclzDecode(src: Uint8Array, out: Uint8Array, file: string): void {
  const fail = (): never => {
    throw new InputError("corrupt BloscLZ data in a blosc2 chunk", { file });
  };
  let ip = 0,
    op = 0;
  if (src.length === 0) fail();
  let ctrl = src[ip++]! & 31;
  for (;;) {
    if (ctrl >= 32) {
      let len = (ctrl >> 5) - 1;
      let ofs = (ctrl & 31) << 8;
      if (len === 6) {
        let code;
        do {
          if (ip + 1 >= src.length) fail();
          code = src[ip++]!;
          len += code;
        } while (code === 255);
      } else if (ip + 1 >= src.length) fail();
      const code = src[ip++]!;
      len += 3;
      let ref = op - ofs - code;
      if (code === 255 && ofs === 31 << 8) {
        if (ip + 1 >= src.length) fail();
        ofs = (src[ip]! << 8) + src[ip + 1]!;
        ip += 2;
        ref = op - ofs - 8191;
      }
      if (op + len > out.length || ref - 1 < 0) fail();
      if (ip >= src.length) break;
      ctrl = src[ip++]!;
      ref--;
      for (let k = 0; k < len; k++) out[op++] = out[ref + k]!;
    } else {
      ctrl++;
      if (op + ctrl > out.length || ip + ctrl > src.length) fail();
      out.set(src.subarray(ip, ip + ctrl), op);
      op += ctrl;
      ip += ctrl;
      if (ip >= src.length) break;
      ctrl = src[ip++]!;
    }
  }
  if (op !== out.length) fail();
}

function unshuffle(src: Uint8Array, dst: Uint8Array, ts: number): void {
  const n = Math.floor(src.length / ts);
  if (ts === 4) {
    for (let i = 0, o = 0; i < n; i++, o += 4) {
      dst[o] = src[i]!;
      dst[o + 1] = src[n + i]!;
      dst[o + 2] = src[2 * n + i]!;
      dst[o + 3] = src[3 * n + i]!;
    }
  } else if (ts === 2) {
    for (let i = 0, o = 0; i < n; i++, o += 2) {
      dst[o] = src[i]!;
      dst[o + 1] = src[n + i]!;
    }
  } else {
    for (let j = 0; j < ts; j++) for (let i = 0; i < n; i++) dst[i * ts + j] = src[j * n + i]!;
  }
  dst.set(src.subarray(n * ts), n * ts);
}

/** Decompresses one blosc2 chunk (its full uncompressed bytes). */
export function decodeChunk(c: Uint8Array, file: string, maxBytes: number): Uint8Array {
  if (c.length < 16) throw new InputError("truncated blosc2 chunk header", { file });
  const dv = new DataView(c.buffer, c.byteOffset, c.byteLength);
  const flags = c[2]!,
    ts = c[3]!;
  const nbytes = dv.getInt32(4, true),
    blocksize = dv.getInt32(8, true),
    cbytes = dv.getInt32(12, true);
  if (nbytes < 0 || nbytes > maxBytes || blocksize < 0 || cbytes > c.length || cbytes < 16) {
    throw new InputError(`invalid blosc2 chunk (nbytes ${nbytes}, blocksize ${blocksize}, cbytes ${cbytes} of ${c.length})`, { file });
  }
  const extended = (flags & 0x05) === 0x05;
  const hlen = extended ? 32 : 16;
  if (extended && c.length < 32) throw new InputError("truncated blosc2 chunk header", { file });
  const filters = extended ? Array.from(c.subarray(16, 22)) : [flags & 1 ? 1 : flags & 4 ? 2 : 0];
  const b2flags = extended ? c[31]! : 0;
  if (extended && c[30]! & 1) throw new InputError("blosc2 chunks with variable-length blocks are not supported", { file });
  const out = new Uint8Array(nbytes);
  const special = (b2flags >> 4) & 7;
  if (special === 1 || special === 4) return out;
  if (special === 2) {
    if (ts === 4) new Float32Array(out.buffer).fill(NaN);
    else if (ts === 8) new Float64Array(out.buffer).fill(NaN);
    return out;
  }
  if (special === 3) {
    if (hlen + ts > c.length) throw new InputError("truncated blosc2 run-length value", { file });
    for (let o = 0; o + ts <= nbytes; o += ts) out.set(c.subarray(hlen, hlen + ts), o);
    return out;
  }
  if (special !== 0) throw new InputError(`unsupported blosc2 special value ${special}`, { file });
  if (flags & 0x02) {
    // memcpyed: the bytes follow the header
    if (hlen + nbytes > c.length) throw new InputError("truncated memcpyed blosc2 chunk", { file });
    out.set(c.subarray(hlen, hlen + nbytes));
    return out;
  }
  if (blocksize === 0 && nbytes > 0) throw new InputError("blosc2 chunk with block size 0", { file });
  const codec = flags >> 5;
  if (codec !== 0 && codec !== 1 && codec !== 3) throw new InputError(`blosc2 codec ${codec} is not supported (BloscLZ, LZ4/LZ4HC and zlib are)`, { file });
  for (const f of filters) if (f !== 0 && f !== 1) throw new InputError(`blosc2 filter ${f} is not supported (none and byte shuffle are)`, { file });
  const shuffled = filters.includes(1);
  const nblocks = Math.ceil(nbytes / blocksize);
  if (hlen + 4 * nblocks > c.length) throw new InputError("truncated blosc2 block starts", { file });
  const dontSplit = (flags & 0x10) !== 0;
  const tmp = new Uint8Array(blocksize);
  for (let b = 0; b < nblocks; b++) {
    const bsize = b === nblocks - 1 && nbytes % blocksize ? nbytes % blocksize : blocksize;
    const leftover = bsize !== blocksize;
    const nstreams = !dontSplit && !leftover ? ts : 1;
    const neblock = Math.floor(bsize / nstreams);
    let p = dv.getInt32(hlen + 4 * b, true);
    const target = shuffled ? tmp.subarray(0, bsize) : out.subarray(b * blocksize, b * blocksize + bsize);
    for (let s = 0; s < nstreams; s++) {
      if (p < 0 || p + 4 > c.length) throw new InputError("blosc2 block start outside the chunk", { file });
      const csize = dv.getInt32(p, true);
      p += 4;
      const dst = target.subarray(s * neblock, (s + 1) * neblock);
      if (csize === 0) {
        dst.fill(0);
        continue;
      }
      if (csize < 0) {
        // a run of one byte, stored in the low byte of csize (token byte follows)
        if (p >= c.length || !(c[p]! & 1)) throw new InputError("unsupported blosc2 stream token", { file });
        dst.fill(-csize & 0xff);
        p += 1;
        continue;
      }
      if (p + csize > c.length) throw new InputError("blosc2 stream beyond the chunk", { file });
      const z = c.subarray(p, p + csize);
      if (csize === neblock) dst.set(z);
      else if (codec === 1) lz4Decode(z, dst, file);
      else if (codec === 0) blosclzDecode(z, dst, file);
      else {
        const inf = inflateSync(z, { maxOutputLength: Math.max(1, neblock) });
        if (inf.length !== neblock) throw new InputError("blosc2 zlib stream has the wrong size", { file });
        dst.set(inf);
      }
      p += csize;
    }
    if (shuffled) unshuffle(target, out.subarray(b * blocksize, b * blocksize + bsize), ts);
  }
  return out;
}

/** Reads a .b2nd file's array (C order). */
export function parseB2nd(b: Uint8Array, file = "<b2nd>"): RawArray {
  if (!isB2nd(b) || b.length < 0x57) throw new InputError("not a blosc2 frame (no b2frame magic)", { file });
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerLen = dv.getInt32(0x0b);
  const frameType = b[0x1a]! & 0x0f;
  if (frameType !== 0) throw new InputError("sparse (directory) blosc2 frames are not supported", { file });
  if (((b[0x19]! >> 4) & 3) !== 1) throw new InputError("blosc2 frames with non-64-bit chunk offsets are not supported", { file });
  const cbytes = Number(dv.getBigInt64(0x27));
  const nbytesTotal = Number(dv.getBigInt64(0x1e));
  const chunkSize = dv.getInt32(0x3a);
  if (headerLen < 0x57 || headerLen > b.length || cbytes < 0 || headerLen + cbytes > b.length) {
    throw new InputError("blosc2 frame header sizes exceed the file", { file });
  }
  // metalayers: a msgpack map {name: offset of a bin32 holding the content}; only "b2nd" matters here
  const at = findB2ndOffset(b, headerLen);
  if (at < 0) throw new InputError("blosc2 frame has no b2nd metalayer (not an nd-array)", { file });
  const meta = new MsgPack(b.subarray(0, headerLen), at, file).read();
  const m = meta instanceof Uint8Array ? new MsgPack(meta, 0, file).read() : meta;
  if (!Array.isArray(m) || m.length < 7) throw new InputError("malformed b2nd metalayer", { file });
  const [, nd, shape, chunkshape, blockshape, , dtypeStr] = m as [number, number, number[], number[], number[], number, string];
  const dtype = DTYPES[dtypeStr];
  if (!dtype) throw new InputError(`unsupported b2nd dtype ${JSON.stringify(dtypeStr)}`, { file });
  if (![shape, chunkshape, blockshape].every((a) => Array.isArray(a) && a.length === nd)) throw new InputError("b2nd shapes do not match ndim", { file });
  const isz = SIZES[dtype];
  const n = checkedCount(shape.length ? shape : [1], isz, file, "b2nd array");
  if (nbytesTotal < 0) throw new InputError("negative blosc2 size", { file });
  if (chunkshape.some((x) => x < 1) || blockshape.some((x) => x < 1)) throw new InputError("b2nd chunk/block shapes must be positive", { file });
  const extChunk = chunkshape.map((c, i) => Math.ceil(c / blockshape[i]!) * blockshape[i]!);
  const chunkBytes = checkedCount(extChunk, isz, file, "b2nd chunk") * isz;
  if (chunkSize !== 0 && chunkSize !== chunkBytes) {
    throw new InputError(`b2nd chunk size ${chunkSize} differs from the ${chunkBytes} its shapes give`, { file });
  }
  const grid = shape.map((s, i) => Math.ceil(s / chunkshape[i]!));
  const nchunks = grid.reduce((a, c) => a * c, 1);
  // the index chunk follows the data chunks; its offsets count from the end of the header
  const idx = decodeChunk(b.subarray(headerLen + cbytes), file, nchunks * 8 + 64);
  if (idx.length < nchunks * 8) throw new InputError(`b2nd index holds ${idx.length / 8} chunk offsets, ${nchunks} expected`, { file });
  const idv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const out = new Uint8Array(n * isz);
  const blockGrid = extChunk.map((e, i) => e / blockshape[i]!);
  const blockElems = blockshape.reduce((a, c) => a * c, 1);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, c) => a * c, 1));
  const bstr = blockshape.map((_, i) => blockshape.slice(i + 1).reduce((a, c) => a * c, 1));
  for (let ci = 0; ci < nchunks; ci++) {
    const cpos = unravel(ci, grid);
    const raw = idv.getBigUint64(ci * 8, true);
    let chunk: Uint8Array;
    if (raw & (1n << 63n)) {
      const sp = Number((raw >> 56n) & 7n);
      chunk = new Uint8Array(chunkBytes);
      if (sp === 2) {
        if (isz === 4) new Float32Array(chunk.buffer).fill(NaN);
        else if (isz === 8) new Float64Array(chunk.buffer).fill(NaN);
      } else if (sp !== 1 && sp !== 4) throw new InputError(`unsupported b2nd special chunk ${sp}`, { file });
    } else {
      const off = Number(raw);
      if (headerLen + off >= b.length) throw new InputError("b2nd chunk offset beyond the file", { file });
      chunk = decodeChunk(b.subarray(headerLen + off), file, chunkBytes);
      if (chunk.length !== chunkBytes) throw new InputError(`b2nd chunk of ${chunk.length} bytes, ${chunkBytes} expected`, { file });
    }
    // blocks in C order within the chunk, each block's elements in C order
    const nb = blockGrid.reduce((a, c) => a * c, 1);
    for (let bi = 0; bi < nb; bi++) {
      const bpos = unravel(bi, blockGrid);
      const origin = cpos.map((c, i) => c * chunkshape[i]! + bpos[i]! * blockshape[i]!);
      // elements of this block inside both the chunk and the array
      const lim = origin.map((o, i) => Math.max(0, Math.min(blockshape[i]!, shape[i]! - o, (cpos[i]! + 1) * chunkshape[i]! - o)));
      if (lim.some((l) => l === 0)) continue;
      const rowLen = lim[nd - 1]! * isz;
      const rows = lim.slice(0, nd - 1).reduce((a, c) => a * c, 1);
      const rp = new Array<number>(Math.max(0, nd - 1)).fill(0);
      for (let r = 0; r < rows; r++) {
        let src = 0,
          dst = origin[nd - 1]!;
        for (let i = 0; i < nd - 1; i++) {
          src += rp[i]! * bstr[i]!;
          dst += (origin[i]! + rp[i]!) * strides[i]!;
        }
        const s0 = (bi * blockElems + src) * isz;
        out.set(chunk.subarray(s0, s0 + rowLen), dst * isz);
        // next row: increment the row counter over lim[0..nd-2], last axis fastest
        for (let i = nd - 2; i >= 0; i--) {
          if (++rp[i]! < lim[i]!) break;
          rp[i] = 0;
        }
      }
    }
  }
  const data = new (ctorOf(dtype))(out.buffer, 0, n);
  return { dtype, shape: shape.slice(), data };
}

function ctorOf(d: ArrayDtype): new (b: ArrayBuffer, o: number, n: number) => RawArray["data"] {
  const ctors = {
    float32: Float32Array,
    float64: Float64Array,
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int32: Int32Array,
    uint32: Uint32Array,
    int64: BigInt64Array,
    uint64: BigUint64Array,
  } as const;
  return ctors[d] as never;
}

function unravel(i: number, dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    out[k] = i % dims[k]!;
    i = Math.floor(i / dims[k]!);
  }
  return out;
}

/** Position of the b2nd metalayer's content (a msgpack bin32) in the header: the map stores "b2nd" -> int32 offset. */
function findB2ndOffset(b: Uint8Array, headerLen: number): number {
  const key = [0xa4, 0x62, 0x32, 0x6e, 0x64]; // fixstr "b2nd"
  for (let p = 0x57; p + 10 <= headerLen; p++) {
    if (key.every((k, j) => b[p + j] === k) && b[p + 5] === 0xd2) {
      const off = new DataView(b.buffer, b.byteOffset).getInt32(p + 6);
      return off > 0 && off < headerLen ? off : -1;
    }
  }
  return -1;
}
