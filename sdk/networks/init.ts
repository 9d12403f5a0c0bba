// Seeded weight initialisation. PyTorch's global RNG cannot be reproduced bit for bit, so we only match the
// distributions upstream draws from (dynamic_network_architectures InitWeights_He, timm trunc_normal_) and make
// our own draws reproducible from a seed.

/** How a parameter is initialised, in the parameter's PyTorch layout. */
export type Init =
  /** kaiming_normal_(a=negSlope), fan_in mode: std = sqrt(2 / (1 + a^2)) / sqrt(fanIn). */
  | { kind: "he"; fanIn: number; negSlope: number }
  /** timm trunc_normal_(std, a=-2, b=2): the bounds are absolute, so for small std this is N(0, std^2). */
  | { kind: "truncNormal"; std: number }
  | { kind: "const"; value: number };

/**
 * xoshiro128** seeded through splitmix32: fast, good quality, and identical on every platform.
 * The state lives in a Uint32Array and the spare normal in a Float64Array: as plain fields, uint32 values above 2^30
 * and a number-or-null spare are boxed on every update, which made initialising a 300 M-parameter network spend most
 * of its time allocating and collecting numbers. `fillNormal` keeps the state in locals for a whole array.
 */
export class Rng {
  private readonly s = new Uint32Array(4);
  private readonly spareValue = new Float64Array(1);
  private hasSpare = false;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (let i = 0; i < 4; i++) this.s[i] = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = rotl(s3, 11);
    return Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
  }

  /** Uniform in (0, 1): never 0, so log() below is finite. */
  uniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** Standard normal (Marsaglia's polar method, both values used: no trigonometry, one log per pair). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spareValue[0]!;
    }
    let u: number;
    let v: number;
    let q: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      q = u * u + v * v;
    } while (q >= 1 || q === 0);
    const f = Math.sqrt((-2 * Math.log(q)) / q);
    this.spareValue[0] = v * f;
    this.hasSpare = true;
    return u * f;
  }

  /**
   * Fills `out` with `normal() * std`, drawing exactly the values (and leaving exactly the state) that calling
   * normal() once per element would; values outside [lo, hi] are rejected and drawn again (truncated normal).
   */
  fillNormal(out: Float32Array, std: number, lo = -Infinity, hi = Infinity): void {
    const s = this.s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    const n = out.length;
    let i = 0;
    let z: number;
    if (this.hasSpare && n > 0) {
      this.hasSpare = false;
      z = this.spareValue[0]! * std;
      if (z >= lo && z <= hi) out[i++] = z;
    }
    while (i < n) {
      let u: number;
      let v: number;
      let q: number;
      do {
        // two nextUint32() steps, inlined
        let r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
        let t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        u = 2 * ((r + 0.5) / 4294967296) - 1;
        r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
        t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        v = 2 * ((r + 0.5) / 4294967296) - 1;
        q = u * u + v * v;
      } while (q >= 1 || q === 0);
      const f = Math.sqrt((-2 * Math.log(q)) / q);
      z = u * f * std;
      if (z >= lo && z <= hi) out[i++] = z;
      if (i < n) {
        z = v * f * std;
        if (z >= lo && z <= hi) out[i++] = z;
      } else {
        this.spareValue[0] = v * f;
        this.hasSpare = true;
      }
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Draws `n` values for `init`. */
export function sampleInit(init: Init, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  if (init.kind === "const") {
    if (init.value !== 0) out.fill(init.value);
  } else if (init.kind === "he") {
    rng.fillNormal(out, Math.sqrt(2 / (1 + init.negSlope * init.negSlope)) / Math.sqrt(init.fanIn));
  } else {
    rng.fillNormal(out, init.std, -2, 2);
  }
  return out;
}

/** A seed for networks built without one (like an unseeded torch run, every build differs). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
