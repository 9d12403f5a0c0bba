// Background of a 3-d volume as maximal runs along the contiguous last axis, and which of them scipy's
// binary_fill_holes keeps as background: those face-connected (through background) to the array border. Runs make
// hole filling, the bounding box and the crop's mask per-run work instead of per-voxel passes with a queue; the only
// per-voxel work is the one sweep that finds the runs (4-8M voxels per case in preprocessing).

/** Background runs of a (X, Y, Z) volume; run i of row r = x * Y + y covers z in [a[i], b[i]] (inclusive). */
export interface BackgroundRuns {
  X: number;
  Y: number;
  Z: number;
  /** Runs of row r are rowStart[r] .. rowStart[r + 1] - 1, in increasing z. */
  rowStart: Int32Array;
  a: Int32Array;
  b: Int32Array;
  /** 1 where the run is connected to the border (stays background), 0 for a hole (becomes foreground). */
  reached: Uint8Array;
}

/** Growable run bounds (a few runs per row), so the sweep over the volume needs no counting pass. */
class RunList {
  a: Int32Array;
  b: Int32Array;
  n = 0;
  constructor(capacity: number) {
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
  }
  push(a: number, b: number): void {
    if (this.n === this.a.length) {
      const ga = new Int32Array(this.n * 2),
        gb = new Int32Array(this.n * 2);
      ga.set(this.a);
      gb.set(this.b);
      this.a = ga;
      this.b = gb;
    }
    this.a[this.n] = a;
    this.b[this.n++] = b;
  }
}

// The volume is scanned one x-plane per call: V8 optimises a function called many times per case once, with complete
// type feedback, while a single long call is recompiled on the fly in every case.

/**
 * Runs of `mask[i] === 0`; every other value is foreground and is normalised to 1 on the way (binary_fill_holes
 * returns a 0/1 array whatever nonzero values came in).
 */
export function runsOfMask(mask: Uint8Array, [X, Y, Z]: readonly [number, number, number]): BackgroundRuns {
  const rowStart = new Int32Array(X * Y + 1);
  const list = new RunList(Math.max(1024, 2 * X * Y));
  for (let x = 0; x < X; x++) maskPlaneRuns(mask, x * Y, Y, Z, rowStart, list);
  rowStart[X * Y] = list.n;
  return label(X, Y, Z, rowStart, list);
}

function maskPlaneRuns(mask: Uint8Array, r0: number, Y: number, Z: number, rowStart: Int32Array, list: RunList): void {
  for (let r = r0, base = r0 * Z; r < r0 + Y; r++, base += Z) {
    rowStart[r] = list.n;
    let z = 0;
    while (z < Z) {
      const v = mask[base + z]!;
      if (v !== 0) {
        if (v !== 1) mask[base + z] = 1;
        z++;
        continue;
      }
      const a = z;
      while (z < Z && mask[base + z] === 0) z++;
      list.push(a, z - 1);
    }
  }
}

/**
 * Runs of voxels that are zero in every channel of `data` (C-contiguous (C, X, Y, Z)), i.e. of the complement of
 * nnU-Net's nonzero mask, read straight from the float bits: a float32 is zero (either sign) exactly when its bits
 * without the sign are 0, and NaN is nonzero, as in numpy's `data != 0`.
 */
export function runsOfZeroData(data: Float32Array, C: number, [X, Y, Z]: readonly [number, number, number]): BackgroundRuns {
  const n = X * Y * Z;
  let bits = new Uint32Array(data.buffer, data.byteOffset, C * n);
  if (C > 2) {
    // OR of all channels' bits (rare: more than two channels)
    const or = bits.slice(0, n);
    for (let c = 1; c < C; c++) for (let i = 0, j = c * n; i < n; i++, j++) or[i] |= bits[j]!;
    bits = or;
  }
  const rowStart = new Int32Array(X * Y + 1);
  const list = new RunList(Math.max(1024, 2 * X * Y));
  // two copies of the scan, so the channel test is not decided per voxel
  for (let x = 0; x < X; x++) {
    if (C === 2) zeroPlaneRuns2(bits, n, x * Y, Y, Z, rowStart, list);
    else zeroPlaneRuns1(bits, x * Y, Y, Z, rowStart, list);
  }
  rowStart[X * Y] = list.n;
  return label(X, Y, Z, rowStart, list);
}

function zeroPlaneRuns1(bits: Uint32Array, r0: number, Y: number, Z: number, rowStart: Int32Array, list: RunList): void {
  for (let r = r0, base = r0 * Z; r < r0 + Y; r++, base += Z) {
    rowStart[r] = list.n;
    const end = base + Z;
    let i = base;
    while (i < end) {
      if ((bits[i]! & 0x7fffffff) !== 0) {
        i++;
        continue;
      }
      const a = i;
      while (i < end && (bits[i]! & 0x7fffffff) === 0) i++;
      list.push(a - base, i - 1 - base);
    }
  }
}

function zeroPlaneRuns2(bits: Uint32Array, off2: number, r0: number, Y: number, Z: number, rowStart: Int32Array, list: RunList): void {
  for (let r = r0, base = r0 * Z; r < r0 + Y; r++, base += Z) {
    rowStart[r] = list.n;
    const end = base + Z;
    let i = base;
    while (i < end) {
      if (((bits[i]! | bits[i + off2]!) & 0x7fffffff) !== 0) {
        i++;
        continue;
      }
      const a = i;
      while (i < end && ((bits[i]! | bits[i + off2]!) & 0x7fffffff) === 0) i++;
      list.push(a - base, i - 1 - base);
    }
  }
}

/** Union-find root with path halving. */
function findRoot(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    const p = parent[parent[i]!]!;
    parent[i] = p;
    i = p;
  }
  return i;
}

/**
 * Connected components of the runs: runs of face-neighbouring rows (y - 1, x - 1) that overlap at some z are joined
 * (two sorted, disjoint lists: a two-pointer merge); a component is reached when one of its runs lies on the border.
 */
function label(X: number, Y: number, Z: number, rowStart: Int32Array, list: RunList): BackgroundRuns {
  const nRuns = list.n;
  const A = list.a,
    B = list.b;
  const parent = new Int32Array(nRuns);
  for (let i = 0; i < nRuns; i++) parent[i] = i;
  const border = new Uint8Array(nRuns);
  for (let x = 0; x < X; x++) unionPlane(x, X, Y, Z, rowStart, A, B, parent, border);
  for (let i = 0; i < nRuns; i++) if (border[i]) border[findRoot(parent, i)] = 1;
  const reached = new Uint8Array(nRuns);
  for (let i = 0; i < nRuns; i++) reached[i] = border[findRoot(parent, i)]!;
  return { X, Y, Z, rowStart, a: A.subarray(0, nRuns), b: B.subarray(0, nRuns), reached };
}

/** Marks border runs of plane x and joins its runs with the overlapping runs of the rows at y - 1 and x - 1. */
function unionPlane(
  x: number,
  X: number,
  Y: number,
  Z: number,
  rowStart: Int32Array,
  A: Int32Array,
  B: Int32Array,
  parent: Int32Array,
  border: Uint8Array,
): void {
  for (let y = 0; y < Y; y++) {
    const r = x * Y + y;
    const s0 = rowStart[r]!,
      s1 = rowStart[r + 1]!;
    if (s0 === s1) continue;
    if (x === 0 || x === X - 1 || y === 0 || y === Y - 1) border.fill(1, s0, s1);
    else {
      if (A[s0] === 0) border[s0] = 1;
      if (B[s1 - 1] === Z - 1) border[s1 - 1] = 1;
    }
    for (let k = 0; k < 2; k++) {
      if (k === 0 ? y === 0 : x === 0) continue;
      // both rows' runs are sorted and disjoint: a two-pointer merge finds the overlapping pairs
      const q = k === 0 ? r - 1 : r - Y;
      let i = s0,
        j = rowStart[q]!;
      const j1 = rowStart[q + 1]!;
      while (i < s1 && j < j1) {
        if (A[i]! <= B[j]! && A[j]! <= B[i]!) {
          const ri = findRoot(parent, i),
            rj = findRoot(parent, j);
          if (ri !== rj) {
            if (ri < rj) parent[rj] = ri;
            else parent[ri] = rj;
          }
        }
        if (B[i]! < B[j]!) i++;
        else j++;
      }
    }
  }
}

/**
 * get_bbox_from_mask of the hole-filled mask (everything but reached runs), half-open per axis; the full extent when
 * the mask is empty.
 */
export function bboxOfRuns({ X, Y, Z, rowStart, a, b, reached }: BackgroundRuns): [number, number][] {
  const box = Int32Array.of(X, -1, Y, -1, Z, -1); // x0, x1, y0, y1, z0, z1 (inclusive)
  for (let x = 0; x < X; x++) bboxPlane(x, Y, Z, rowStart, a, b, reached, box);
  const [x0, x1, y0, y1, z0, z1] = box as unknown as number[];
  if (x1! < 0)
    return [
      [0, X],
      [0, Y],
      [0, Z],
    ];
  return [
    [x0!, x1! + 1],
    [y0!, y1! + 1],
    [z0!, z1! + 1],
  ];
}

function bboxPlane(x: number, Y: number, Z: number, rowStart: Int32Array, a: Int32Array, b: Int32Array, reached: Uint8Array, box: Int32Array): void {
  for (let y = 0, r = x * Y; y < Y; y++, r++) {
    const s0 = rowStart[r]!,
      s1 = rowStart[r + 1]!;
    // first foreground z: skip a reached run starting at 0; last: skip a reached run ending at Z - 1
    const first = s0 < s1 && reached[s0] && a[s0] === 0 ? b[s0]! + 1 : 0;
    if (first >= Z) continue;
    const last = s0 < s1 && reached[s1 - 1] && b[s1 - 1] === Z - 1 ? a[s1 - 1]! - 1 : Z - 1;
    if (x < box[0]!) box[0] = x;
    box[1] = x;
    if (y < box[2]!) box[2] = y;
    if (y > box[3]!) box[3] = y;
    if (first < box[4]!) box[4] = first;
    if (last > box[5]!) box[5] = last;
  }
}

/**
 * Writes `value` into the voxels of the crop (C-contiguous, shape = bbox extent) that lie on reached runs, i.e.
 * outside the hole-filled mask; with `seg`, only where the full-volume `seg` is 0 there.
 */
export function markReachedInBox(
  runs: BackgroundRuns,
  bbox: readonly [number, number][],
  out: Uint8Array | Int16Array | Float32Array,
  value: number,
  seg: Float32Array | null,
): void {
  const [[x0, x1], [y0, y1], [z0, z1]] = bbox as [[number, number], [number, number], [number, number]];
  for (let x = x0; x < x1; x++) markPlane(runs.rowStart, runs.a, runs.b, runs.reached, x, x0, y0, y1, z0, z1, runs.Y, runs.Z, out, value, seg);
}

function markPlane(
  rowStart: Int32Array,
  a: Int32Array,
  b: Int32Array,
  reached: Uint8Array,
  x: number,
  x0: number,
  y0: number,
  y1: number,
  z0: number,
  z1: number,
  Y: number,
  Z: number,
  out: Uint8Array | Int16Array | Float32Array,
  value: number,
  seg: Float32Array | null,
): void {
  const cy = y1 - y0,
    cz = z1 - z0;
  for (let y = y0; y < y1; y++) {
    const r = x * Y + y;
    const rowOff = ((x - x0) * cy + (y - y0)) * cz - z0;
    for (let i = rowStart[r]!; i < rowStart[r + 1]!; i++) {
      if (!reached[i]) continue;
      const lo = Math.max(a[i]!, z0),
        hi = Math.min(b[i]! + 1, z1);
      if (lo >= hi) continue;
      if (seg === null) out.fill(value, rowOff + lo, rowOff + hi);
      else for (let z = lo, src = r * Z; z < hi; z++) if (seg[src + z] === 0) out[rowOff + z] = value;
    }
  }
}
