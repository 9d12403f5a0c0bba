// Writes an uncompressed zip the way torch's PyTorchStreamWriter does: each member's data starts on a 64-byte
// boundary (padding goes into an extra field of the local header), so readers can map tensors without copying.
// zip64 records are added only when a size or offset needs them (or when forced, for tests).

import { crc32 } from "node:zlib";

export interface ZipMember {
  name: string;
  data: Uint8Array;
}

const ALIGN = 64;
const MAX32 = 0xffffffff;

class Header {
  private readonly dv: DataView;
  readonly bytes: Uint8Array;
  private p = 0;
  constructor(n: number) {
    this.bytes = new Uint8Array(n);
    this.dv = new DataView(this.bytes.buffer);
  }
  u16(v: number): this {
    this.dv.setUint16(this.p, v, true);
    this.p += 2;
    return this;
  }
  u32(v: number): this {
    this.dv.setUint32(this.p, v, true);
    this.p += 4;
    return this;
  }
  u64(v: number): this {
    this.dv.setBigUint64(this.p, BigInt(v), true);
    this.p += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.p);
    this.p += b.length;
    return this;
  }
  fill(n: number, byte: number): this {
    this.bytes.fill(byte, this.p, this.p + n);
    this.p += n;
    return this;
  }
}

/** The archive as a list of chunks (member data is not copied). */
export function zipChunks(members: readonly ZipMember[], { forceZip64 = false } = {}): Uint8Array[] {
  const enc = new TextEncoder();
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = enc.encode(m.name);
    const size = m.data.length;
    const crc = crc32(m.data) >>> 0;
    const zip64 = forceZip64 || size >= MAX32 || offset >= MAX32;
    const z64Local = zip64 ? 20 : 0; // id, len, uncompressed, compressed
    const base = offset + 30 + name.length + z64Local + 4; // + 4: header of the padding extra field
    const pad = (ALIGN - (base % ALIGN)) % ALIGN;
    const local = new Header(30 + name.length + z64Local + 4 + pad)
      .u32(0x04034b50)
      .u16(zip64 ? 45 : 20)
      .u16(0)
      .u16(0)
      .u16(0)
      .u16(0x21) // stored; DOS date 1980-01-01
      .u32(crc)
      .u32(zip64 ? MAX32 : size)
      .u32(zip64 ? MAX32 : size)
      .u16(name.length)
      .u16(z64Local + 4 + pad)
      .raw(name);
    if (zip64) local.u16(0x0001).u16(16).u64(size).u64(size);
    local.u16(0x4246).u16(pad).fill(pad, 0x5a); // "FB" padding field, as torch writes it
    out.push(local.bytes, m.data);
    const z64Central = zip64 ? 28 : 0;
    const c = new Header(46 + name.length + z64Central)
      .u32(0x02014b50)
      .u16(zip64 ? 45 : 20)
      .u16(zip64 ? 45 : 20)
      .u16(0)
      .u16(0)
      .u16(0)
      .u16(0x21)
      .u32(crc)
      .u32(zip64 ? MAX32 : size)
      .u32(zip64 ? MAX32 : size)
      .u16(name.length)
      .u16(z64Central)
      .u16(0)
      .u16(0)
      .u16(0)
      .u32(0)
      .u32(zip64 ? MAX32 : offset)
      .raw(name);
    if (zip64) c.u16(0x0001).u16(24).u64(size).u64(size).u64(offset);
    central.push(c.bytes);
    offset += local.bytes.length + size;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  out.push(...central);
  const n = members.length;
  const zip64End = forceZip64 || cdOffset + cdSize >= MAX32 || n >= 0xffff;
  if (zip64End) {
    const eocd64At = cdOffset + cdSize;
    out.push(
      new Header(56).u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(n).u64(n).u64(cdSize).u64(cdOffset).bytes,
      new Header(20).u32(0x07064b50).u32(0).u64(eocd64At).u32(1).bytes,
    );
  }
  out.push(
    new Header(22)
      .u32(0x06054b50)
      .u16(0)
      .u16(0)
      .u16(Math.min(n, 0xffff))
      .u16(Math.min(n, 0xffff))
      .u32(zip64End ? MAX32 : cdSize)
      .u32(zip64End ? MAX32 : cdOffset)
      .u16(0).bytes,
  );
  return out;
}
