// Reads the zip container torch.save writes (torch >= 1.6). Entries are located through the central directory and
// returned as subarrays of the file's bytes (torch stores them uncompressed and 64-byte aligned), so a 400 MB
// checkpoint is not copied. Deflated entries (archives repacked by other tools) are inflated with a size bound.

import { constants as bufferConstants } from "node:buffer";
import { crc32, inflateRawSync } from "node:zlib";
import { CheckpointError } from "../../errors.js";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private fail(problem: string): never {
    throw new CheckpointError(`corrupt zip archive: ${problem}`, { file: this.file });
  }

  private u64(pos: number): number {
    const v = this.dv.getBigUint64(pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit field at byte ${pos} is too large`);
    return Number(v);
  }

  private readCentralDirectory(): void {
    const { bytes, dv } = this;
    const n = bytes.length;
    if (n < 22) this.fail(`file is only ${n} bytes (truncated?)`);
    // The end-of-central-directory record sits at the end, followed by a comment of at most 65535 bytes.
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - 0xffff); p--) {
      if (dv.getUint32(p, true) === SIG_EOCD && p + 22 + dv.getUint16(p + 20, true) <= n) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail("no end-of-central-directory record (the file is truncated or not a zip)");
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOffset = dv.getUint32(eocd + 16, true);
    if (eocd >= 20 && dv.getUint32(eocd - 20, true) === SIG_EOCD64_LOCATOR) {
      const z = this.u64(eocd - 12);
      if (z + 56 > n || dv.getUint32(z, true) !== SIG_EOCD64) this.fail("bad zip64 end-of-central-directory record");
      count = this.u64(z + 32);
      cdSize = this.u64(z + 40);
      cdOffset = this.u64(z + 48);
    }
    if (cdOffset + cdSize > n) this.fail(`central directory (${cdSize} bytes at ${cdOffset}) lies beyond the end of the ${n}-byte file`);
    if (count * 46 > cdSize) this.fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
    const names = new TextDecoder("utf-8", { fatal: false });
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdOffset + cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) this.fail(`central directory entry ${i} is damaged`);
      const method = dv.getUint16(p + 10, true);
      const crc = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdOffset + cdSize) this.fail(`central directory entry ${i} runs past the directory`);
      const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64: the 32-bit fields that overflowed are 0xFFFFFFFF and their real values follow, in this order, in extra 0x0001.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = dv.getUint16(e, true);
        const len = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) this.fail(`zip64 field of ${name} is too short`);
            const v = this.u64(q);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      p = end;
    }
  }

  /**
   * The stored bytes of one entry (a subarray of the file for stored entries). `verifyCrc` false skips the CRC
   * check, as torch's own reader always does (PyTorch builds miniz with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS).
   */
  read(name: string, { verifyCrc = true } = {}): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(`the archive has no member ${name}`, { file: this.file });
    const { dv } = this;
    const h = e.localHeaderOffset;
    if (h + 30 > this.bytes.length || dv.getUint32(h, true) !== SIG_LOCAL) this.fail(`local header of ${name} is missing`);
    const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
    if (start + e.compressedSize > this.bytes.length) {
      this.fail(`${name} needs ${e.compressedSize} bytes at ${start} but the file ends at ${this.bytes.length} (truncated?)`);
    }
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize) this.fail(`${name} is stored but its sizes differ`);
      data = raw;
    } else if (e.method === 8) {
      // Deflate expands at most ~1032:1; a larger declared size is a lie meant to exhaust memory.
      if (e.size > e.compressedSize * 1032 + 1024 || e.size > bufferConstants.MAX_LENGTH) {
        this.fail(`${name} claims to inflate from ${e.compressedSize} to ${e.size} bytes`);
      }
      try {
        data = e.size === 0 ? new Uint8Array(0) : inflateRawSync(raw, { maxOutputLength: e.size });
      } catch (err) {
        this.fail(`${name} does not inflate (${(err as Error).message})`);
      }
      if (data.length !== e.size) this.fail(`${name} inflates to ${data.length} bytes, expected ${e.size}`);
    } else {
      this.fail(`${name} uses compression method ${e.method} (only stored and deflated are supported)`);
    }
    if (verifyCrc && crc32(data) >>> 0 !== e.crc32) this.fail(`CRC mismatch in ${name} (the file is damaged)`);
    return data;
  }
}
