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

/** xoshiro128** seeded through splitmix32: fast, good quality, and identical on every platform. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so log() below is finite. */
  uniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** Standard normal (Marsaglia's polar method, both values used: no trigonometry, one log per pair). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
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
    this.spare = v * f;
    return u * f;
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
    const std = Math.sqrt(2 / (1 + init.negSlope * init.negSlope)) / Math.sqrt(init.fanIn);
    for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  } else {
    for (let i = 0; i < n; i++) {
      let v: number;
      do v = rng.normal() * init.std;
      while (v < -2 || v > 2);
      out[i] = v;
    }
  }
  return out;
}

/** A seed for networks built without one (like an unseeded torch run, every build differs). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
