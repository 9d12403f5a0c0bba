// Columns of +0 at the edges of a plane, which a strided spline pass does not filter (see runSplinePass): finding
// them, and filling their outputs from the one output line they all share.

/**
 * Columns [0, x0) and [x1, inner) of the nOut x inner plane at out[base..] get the zero line's values (a loop: fill()
 * has a per-call cost that shows on these short ranges).
 */
export function fillEdges(out: Float64Array, base: number, nOut: number, inner: number, x0: number, x1: number, z: Float64Array): void {
  for (let k = 0, q = base; k < nOut; k++, q += inner) {
    const v = z[k]!;
    for (let x = 0; x < x0; x++) out[q + x] = v;
    for (let x = x1; x < inner; x++) out[q + x] = v;
  }
}

/** fillEdges into a float32 output, each value clipped to [lo, hi] first (as the float32 evaluation does). */
export function fillEdgesClip32(
  out: Float32Array,
  base: number,
  nOut: number,
  inner: number,
  x0: number,
  x1: number,
  z: Float64Array,
  lo: number,
  hi: number,
): void {
  for (let k = 0, q = base; k < nOut; k++, q += inner) {
    const u = z[k]!;
    const v = u < lo ? lo : u > hi ? hi : u;
    for (let x = 0; x < x0; x++) out[q + x] = v;
    for (let x = x1; x < inner; x++) out[q + x] = v;
  }
}

/**
 * edges = [leading, trailing] numbers of columns of the n x inner plane at src[base..] that hold +0 only (-0 does not
 * count: it gives other bytes). The test is on the bits (+0 is all zero bits), through an integer view: comparing
 * with 0 and dividing to tell -0 apart costs more than the scan saves.
 */
export function zeroColumns(src: Float32Array | Float64Array, base: number, n: number, inner: number, edges: Int32Array): void {
  if (src instanceof Float32Array) zeroEdges(new Int32Array(src.buffer, src.byteOffset + 4 * base, n * inner), 1, n, inner, edges);
  else zeroEdges(new Int32Array(src.buffer, src.byteOffset + 8 * base, 2 * n * inner), 2, n, inner, edges);
}

/**
 * zeroColumns on the bits: each value is `words` int32 words, all zero for +0. Row by row, each only as far as the
 * counts so far, starting with the middle row (most likely to cut the counts down at once), so the scan reads about
 * the skipped columns, contiguously.
 */
function zeroEdges(bits: Int32Array, words: number, n: number, inner: number, edges: Int32Array): void {
  const rowWords = words * inner;
  edges[0] = inner;
  edges[1] = inner;
  zeroEdgesOfRow(bits, (n >> 1) * rowWords, words, inner, edges);
  for (let s = 0, row = 0; s < n; s++, row += rowWords) zeroEdgesOfRow(bits, row, words, inner, edges);
  if (edges[0] === inner) edges[1] = 0; // an all-zero plane: every column counts as leading
}

/**
 * Lowers edges = [leading, trailing] to the +0 columns at either end of the row at bits[row..]. Works on the row's
 * int32 words, four at a time (one OR and one branch per four words), then finds the exact word.
 */
function zeroEdgesOfRow(bits: Int32Array, row: number, words: number, inner: number, edges: Int32Array): void {
  let lead = edges[0]!;
  let q = row;
  const leadEnd = row + words * lead;
  while (q + 4 <= leadEnd && (bits[q]! | bits[q + 1]! | bits[q + 2]! | bits[q + 3]!) === 0) q += 4;
  while (q < leadEnd && bits[q] === 0) q++;
  if (q < leadEnd) lead = Math.floor((q - row) / words);
  edges[0] = lead;
  if (lead === inner) return; // an all-zero row says nothing about the trailing columns
  const trail = edges[1]!;
  const end = row + words * inner; // scan words [end - words * trail, end) backwards from the end
  const trailStart = end - words * trail;
  q = end;
  while (q - 4 >= trailStart && (bits[q - 1]! | bits[q - 2]! | bits[q - 3]! | bits[q - 4]!) === 0) q -= 4;
  while (q > trailStart && bits[q - 1] === 0) q--;
  // q is one past the last nonzero word, if any: its column is the last one that is not +0
  if (q > trailStart) edges[1] = inner - 1 - Math.floor((q - 1 - row) / words);
}
