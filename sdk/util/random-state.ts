// NumPy's legacy `np.random.RandomState` (MT19937), draw for draw. nnU-Net seeds it for the fingerprint's foreground
// sampling (seed 1234), class_locations (1234) and the cross-validation splits (12345), so matching those files needs
// the same generator and the same way of turning 32-bit words into floats and bounded integers
// (numpy/random/_mt19937.pyx `_legacy_seeding`, src/distributions/distributions.c `random_interval`,
// `random_bounded_uint64_fill` with masked rejection, mtrand.pyx `choice`/`shuffle`).

const N = 624;
const M = 397;
// The state and constants are int32 bit patterns: V8 keeps int32 arithmetic in registers, while uint32 values above
// 2^31 become doubles (~2.5x slower per word).
const MATRIX_A = 0x9908b0df | 0;
const UPPER = 0x80000000 | 0;
const LOWER = 0x7fffffff;
const TEMPER_B = 0x9d2c5680 | 0;
const TEMPER_C = 0xefc60000 | 0;

/** Smallest 2^k - 1 >= max (NumPy's bit-fill `gen_mask`), for max < 2^32. */
function mask32(max: number): number {
  let m = max >>> 0;
  m |= m >>> 1;
  m |= m >>> 2;
  m |= m >>> 4;
  m |= m >>> 8;
  m |= m >>> 16;
  return m >>> 0;
}

/**
 * NumPy legacy `RandomState(seed)`: `init_genrand(seed)` seeding, `random_sample`, `uniform`, `randint`, `choice`,
 * `permutation`, `shuffle`, each consuming the same 32-bit words as NumPy.
 * @example new RandomState(12345).permutation(10) // [0, 7, 3, 9, 6, 4, 1, 8, 5, 2]
 */
export class RandomState {
  private readonly mt = new Int32Array(N);
  private pos = N;
  /** The second normal of the last polar Box-Muller pair (numpy's `has_gauss` / `gauss` state). */
  private gauss: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`RandomState seed must be an integer in [0, 2**32 - 1], got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed | 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i modulo 2^32 (the int32 store wraps)
      mt[i] = Math.imul(1812433253, prev) + i;
    }
    this.pos = N;
  }

  private twist(): void {
    const mt = this.mt;
    let kk = 0;
    for (; kk < N - M; kk++) {
      const y = (mt[kk]! & UPPER) | (mt[kk + 1]! & LOWER);
      mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; kk < N - 1; kk++) {
      const y = (mt[kk]! & UPPER) | (mt[kk + 1]! & LOWER);
      mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (mt[N - 1]! & UPPER) | (mt[0]! & LOWER);
    mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.pos = 0;
  }

  /** The next raw 32-bit word (`mt19937_next32`). */
  nextUint32(): number {
    return this.nextBits() >>> 0;
  }

  /** The next raw 32-bit word as an int32 bit pattern (same bits as nextUint32; cheaper to mask). */
  nextBits(): number {
    if (this.pos >= N) this.twist();
    let y = this.mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & TEMPER_B;
    y ^= (y << 15) & TEMPER_C;
    return y ^ (y >>> 18);
  }

  /** `random_sample()`: 53-bit float in [0, 1) from two words. */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * `standard_normal()` (legacy_gauss): polar Box-Muller on two random_sample() draws; each pair yields two normals and
   * the second is kept in the state for the next call, even across other draws, as numpy keeps `has_gauss`.
   */
  standardNormal(): number {
    if (this.gauss !== null) {
      const g = this.gauss;
      this.gauss = null;
      return g;
    }
    let x1: number, x2: number, r2: number;
    do {
      x1 = 2 * this.randomSample() - 1;
      x2 = 2 * this.randomSample() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.gauss = f * x1;
    return f * x2;
  }

  /** `uniform(lo, hi)` = lo + (hi - lo) * random_sample(). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.randomSample();
  }

  /**
   * A uniform integer in [0, max] the way NumPy's bounded generators draw it: masked rejection on 32-bit words, or on
   * 64-bit words (high word first) above 2^32 - 1. max = 0 consumes nothing.
   */
  boundedInt(max: number): number {
    if (max === 0) return 0;
    if (max <= 0xffffffff) {
      if (max === 0xffffffff) return this.nextUint32();
      const mask = mask32(max);
      let v: number;
      do v = (this.nextUint32() & mask) >>> 0;
      while (v > max);
      return v;
    }
    if (max > Number.MAX_SAFE_INTEGER) throw new RangeError(`bounded integer range too large: ${max}`);
    const maskHi = mask32(Math.floor(max / 4294967296));
    let v: number;
    do {
      const hi = (this.nextUint32() & maskHi) >>> 0;
      v = hi * 4294967296 + this.nextUint32();
    } while (v > max);
    return v;
  }

  /** `randint(lo, hi)`: one integer in [lo, hi). */
  randint(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`randint: low >= high (${lo} >= ${hi})`);
    return lo + this.boundedInt(hi - lo - 1);
  }

  /** `randint(lo, hi, size)`: `size` integers in [lo, hi), as NumPy fills an int64 array. */
  randintArray(lo: number, hi: number, size: number): Float64Array {
    if (!(hi > lo)) throw new RangeError(`randint: low >= high (${lo} >= ${hi})`);
    const out = new Float64Array(size);
    this.fillBounded(hi - lo - 1, out, lo);
    return out;
  }

  /** Fills `out` with `offset + boundedInt(max)`; the fast path behind `choice(..., replace=True)`. */
  fillBounded(max: number, out: Float64Array | Int32Array | Uint32Array, offset = 0): void {
    const n = out.length;
    if (max === 0) {
      out.fill(offset);
      return;
    }
    if (max >= 0xffffffff) {
      for (let i = 0; i < n; i++) out[i] = offset + this.boundedInt(max);
      return;
    }
    const mask = mask32(max);
    for (let i = 0; i < n; i++) {
      let v: number;
      do v = (this.nextUint32() & mask) >>> 0;
      while (v > max);
      out[i] = offset + v;
    }
  }

  /**
   * `choice(n, k, replace)` over `arange(n)`: with replacement `randint(0, n, k)`, without `permutation(n)[:k]`.
   * Returned as int32 indices (populations here are voxel or case counts).
   */
  choice(n: number, k: number, replace = true): Int32Array {
    if (n <= 0 && k > 0) throw new RangeError("choice: a cannot be empty unless no samples are taken");
    if (n > 0x7fffffff) throw new RangeError(`choice: population too large for int32 indices: ${n}`);
    if (replace) {
      const out = new Int32Array(k);
      this.fillBounded(n - 1, out);
      return out;
    }
    if (k > n) throw new RangeError("choice: cannot take a larger sample than population when 'replace=False'");
    return this.permutation(n).subarray(0, k).slice();
  }

  /** `permutation(n)`: a shuffled `arange(n)`. */
  permutation(n: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    return this.shuffleInt32(a);
  }

  /**
   * In-place `shuffle` of an Int32Array, the same draws as `shuffle` with the generator inlined (state in locals): the
   * shuffle behind choice(n, k, replace=False) runs over every candidate voxel of a class, ~10^5-10^6 steps per case.
   */
  shuffleInt32(a: Int32Array): Int32Array {
    // in chunks of steps: many calls per shuffle, so V8 optimises shuffleSteps once rather than on every call
    for (let i = a.length - 1; i >= 1; i -= 65536) this.shuffleSteps(a, i, Math.max(0, i - 65536));
    return a;
  }

  /** Fisher-Yates steps i = from .. to + 1 (downwards) of shuffleInt32. */
  private shuffleSteps(a: Int32Array, from: number, to: number): void {
    const mt = this.mt;
    let pos = this.pos;
    let mask = 0;
    for (let i = from; i > to; i--) {
      // random_interval(i): the smallest 2^k - 1 >= i as mask (it only shrinks as i falls), masked rejection
      if (mask === 0 || mask >>> 1 >= i) {
        let m = i;
        m |= m >>> 1;
        m |= m >>> 2;
        m |= m >>> 4;
        m |= m >>> 8;
        m |= m >>> 16;
        mask = m;
      }
      let j: number;
      do {
        if (pos >= N) {
          this.twist();
          pos = 0;
        }
        let y = mt[pos++]!;
        y ^= y >>> 11;
        y ^= (y << 7) & TEMPER_B;
        y ^= (y << 15) & TEMPER_C;
        j = (y ^ (y >>> 18)) & mask; // mask < 2^31: the int32 bits give the same value as the uint32 word
      } while (j > i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    this.pos = pos;
  }

  /** In-place `shuffle` (Fisher–Yates from the end, `random_interval(i)` per step) of an array or typed array. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i >= 1; i--) {
      const j = this.boundedInt(i);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }
}
