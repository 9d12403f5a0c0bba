// nnssl_onednn: the few oneDNN primitives the tfjs `cpu-onednn` backend needs (sdk/backend/onednn-kernels.ts).
// Every function is synchronous (tfjs kernels are) and reads/writes the caller's Float32Arrays in place, so the only
// copies are the reorders oneDNN itself asks for (weights into its blocked layout). Activations stay channels-last
// (tfjs NDHWC = oneDNN "ndhwc"), which oneDNN 2.x's jit convolutions handle natively; filters are DHWIO ("dhwio").
// Primitives are built once per shape and cached; oneDNN's OpenMP runtime spreads each call over all cores.

#include <napi.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "args.h"

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

using nnssl::f32;
using nnssl::intArgs;

namespace {

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

// ---- primitive cache keys ---------------------------------------------------------------------------------------

std::string key(const std::vector<int64_t>& p) {
  std::string k;
  k.reserve(p.size() * 4);
  for (auto x : p) {
    k += std::to_string(x);
    k += ',';
  }
  return k;
}

// ---- convolution ------------------------------------------------------------------------------------------------
// Parameters (24 integers), shared by forward and both backward passes:
//   N, C, D, H, W,  O, KD, KH, KW,  OD, OH, OW,  strideD/H/W,  dilationD/H/W (oneDNN convention: 0 = dense),
//   padFront, padTop, padLeft,  padBack, padBottom, padRight
// Conv2D is the D = KD = OD = 1 case: NHWC/HWIO memory is then byte-identical to NDHWC/DHWIO.

struct ConvShape {
  memory::dims src, wei, dst, strides, dil, padL, padR;
  explicit ConvShape(const std::vector<int64_t>& p)
      : src{p[0], p[1], p[2], p[3], p[4]},
        wei{p[5], p[1], p[6], p[7], p[8]},
        dst{p[0], p[5], p[9], p[10], p[11]},
        strides{p[12], p[13], p[14]},
        dil{p[15], p[16], p[17]},
        padL{p[18], p[19], p[20]},
        padR{p[21], p[22], p[23]} {}
  int64_t srcSize() const { return src[0] * src[1] * src[2] * src[3] * src[4]; }
  int64_t weiSize() const { return wei[0] * wei[1] * wei[2] * wei[3] * wei[4]; }
  int64_t dstSize() const { return dst[0] * dst[1] * dst[2] * dst[3] * dst[4]; }
  memory::desc srcMd() const { return memory::desc(src, dt::f32, tag::ndhwc); }
  memory::desc dstMd() const { return memory::desc(dst, dt::f32, tag::ndhwc); }
  memory::desc userWeiMd() const { return memory::desc(wei, dt::f32, tag::dhwio); }
  memory::desc anyWeiMd() const { return memory::desc(wei, dt::f32, tag::any); }

  dnnl::convolution_forward::primitive_desc forwardPd(prop_kind kind) const {
    dnnl::convolution_forward::desc d(kind, algorithm::convolution_direct, srcMd(), anyWeiMd(), dstMd(), strides, dil,
                                      padL, padR);
    return dnnl::convolution_forward::primitive_desc(d, eng());
  }
};

// The weights are reordered from DHWIO into the layout the primitive chose on every call (they change every
// optimizer step, so caching the reordered copy would be wrong); the reorder and its target buffer are cached.
struct WeightsReorder {
  bool needed = false;
  dnnl::reorder prim;
  memory buf;
  void init(const memory::desc& user, const memory::desc& chosen, bool toUser) {
    needed = user != chosen;
    if (!needed) return;
    buf = memory(chosen, eng());
    prim = toUser ? dnnl::reorder(buf, memory(user, eng(), DNNL_MEMORY_NONE))
                  : dnnl::reorder(memory(user, eng(), DNNL_MEMORY_NONE), buf);
  }
};

struct ConvFwd {
  ConvShape s;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsReorder w;
  explicit ConvFwd(const std::vector<int64_t>& p) : s(p), pd(s.forwardPd(prop_kind::forward_training)), prim(pd) {
    w.init(s.userWeiMd(), pd.weights_desc(), false);
  }
};

struct ConvBwdData {
  ConvShape s;
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightsReorder w;
  explicit ConvBwdData(const std::vector<int64_t>& p) : s(p), pd(make(s)), prim(pd) {
    w.init(s.userWeiMd(), pd.weights_desc(), false);
  }
  static dnnl::convolution_backward_data::primitive_desc make(const ConvShape& s) {
    dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, s.srcMd(), s.anyWeiMd(), s.dstMd(),
                                            s.strides, s.dil, s.padL, s.padR);
    return dnnl::convolution_backward_data::primitive_desc(d, eng(), s.forwardPd(prop_kind::forward_training));
  }
};

struct ConvBwdWeights {
  ConvShape s;
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  WeightsReorder w;
  explicit ConvBwdWeights(const std::vector<int64_t>& p) : s(p), pd(make(s)), prim(pd) {
    w.init(s.userWeiMd(), pd.diff_weights_desc(), true);
  }
  static dnnl::convolution_backward_weights::primitive_desc make(const ConvShape& s) {
    dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, s.srcMd(), s.anyWeiMd(), s.dstMd(),
                                               s.strides, s.dil, s.padL, s.padR);
    return dnnl::convolution_backward_weights::primitive_desc(d, eng(), s.forwardPd(prop_kind::forward_training));
  }
};

// Node worker threads load this same shared object and would share the caches, the stream, and the per-primitive
// weight buffers; one lock serializes oneDNN work across threads (each call already uses every core via OpenMP).
std::mutex onednnMutex;

template <typename T>
T& cached(std::unordered_map<std::string, std::unique_ptr<T>>& cache, const std::vector<int64_t>& p) {
  auto k = key(p);
  auto it = cache.find(k);
  if (it != cache.end()) return *it->second;
  auto made = std::make_unique<T>(p);
  auto& ref = *made;
  cache.emplace(std::move(k), std::move(made));
  return ref;
}

std::unordered_map<std::string, std::unique_ptr<ConvFwd>> fwdCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdData>> bwdDataCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdWeights>> bwdWeightsCache;

// Turns oneDNN's exceptions (unsupported shape, out of memory) into JS errors that name the primitive.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* what, F&& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string(what) + ": oneDNN error " + std::to_string(e.status) + ": " +
                                           e.what());
  }
  return info.Env().Undefined();
}

// convForward(params, x NDHWC, w DHWIO, y NDHWC)
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  auto p = intArgs(info[0], 24, "convForward params");
  return guarded(info, "convForward", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& c = cached(fwdCache, p);
    float* x = f32(info[1], c.s.srcSize(), "convForward x");
    float* w = f32(info[2], c.s.weiSize(), "convForward filter");
    float* y = f32(info[3], c.s.dstSize(), "convForward y");
    memory wm(c.s.userWeiMd(), eng(), w);
    if (c.w.needed) {
      c.w.prim.execute(strm(), wm, c.w.buf);
      wm = c.w.buf;
    }
    c.prim.execute(strm(), {{DNNL_ARG_SRC, memory(c.s.srcMd(), eng(), x)},
                            {DNNL_ARG_WEIGHTS, wm},
                            {DNNL_ARG_DST, memory(c.s.dstMd(), eng(), y)}});
    strm().wait();
  });
}

// convBackwardData(params, dy NDHWC, w DHWIO, dx NDHWC)
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  auto p = intArgs(info[0], 24, "convBackwardData params");
  return guarded(info, "convBackwardData", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& c = cached(bwdDataCache, p);
    float* dy = f32(info[1], c.s.dstSize(), "convBackwardData dy");
    float* w = f32(info[2], c.s.weiSize(), "convBackwardData filter");
    float* dx = f32(info[3], c.s.srcSize(), "convBackwardData dx");
    memory wm(c.s.userWeiMd(), eng(), w);
    if (c.w.needed) {
      c.w.prim.execute(strm(), wm, c.w.buf);
      wm = c.w.buf;
    }
    c.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, memory(c.s.dstMd(), eng(), dy)},
                            {DNNL_ARG_WEIGHTS, wm},
                            {DNNL_ARG_DIFF_SRC, memory(c.s.srcMd(), eng(), dx)}});
    strm().wait();
  });
}

// convBackwardWeights(params, x NDHWC, dy NDHWC, dw DHWIO)
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  auto p = intArgs(info[0], 24, "convBackwardWeights params");
  return guarded(info, "convBackwardWeights", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& c = cached(bwdWeightsCache, p);
    float* x = f32(info[1], c.s.srcSize(), "convBackwardWeights x");
    float* dy = f32(info[2], c.s.dstSize(), "convBackwardWeights dy");
    float* dw = f32(info[3], c.s.weiSize(), "convBackwardWeights dw");
    memory user(c.s.userWeiMd(), eng(), dw);
    memory target = c.w.needed ? c.w.buf : user;
    c.prim.execute(strm(), {{DNNL_ARG_SRC, memory(c.s.srcMd(), eng(), x)},
                            {DNNL_ARG_DIFF_DST, memory(c.s.dstMd(), eng(), dy)},
                            {DNNL_ARG_DIFF_WEIGHTS, target}});
    if (c.w.needed) c.w.prim.execute(strm(), c.w.buf, user);
    strm().wait();
  });
}

// ---- matmul -----------------------------------------------------------------------------------------------------
// Parameters: batchA, batchB, M, K, N, transposeA, transposeB. A is [batchA, M, K] (stored [batchA, K, M] when
// transposed), B is [batchB, K, N] (stored [batchB, N, K] when transposed), C is [max(batchA, batchB), M, N];
// a batch of 1 broadcasts. Transposes are expressed as strides, so nothing is copied.

struct MatMul {
  memory::desc a, b, c;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  int64_t aSize, bSize, cSize;
  explicit MatMul(const std::vector<int64_t>& p)
      : a(mdA(p)), b(mdB(p)), c(mdC(p)), pd(dnnl::matmul::desc(a, b, c), eng()), prim(pd) {
    aSize = p[0] * p[2] * p[3];
    bSize = p[1] * p[3] * p[4];
    cSize = std::max(p[0], p[1]) * p[2] * p[4];
  }
  static memory::desc mdA(const std::vector<int64_t>& p) {
    int64_t M = p[2], K = p[3];
    return memory::desc({p[0], M, K}, dt::f32, p[5] ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
  }
  static memory::desc mdB(const std::vector<int64_t>& p) {
    int64_t K = p[3], N = p[4];
    return memory::desc({p[1], K, N}, dt::f32, p[6] ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
  }
  static memory::desc mdC(const std::vector<int64_t>& p) {
    int64_t M = p[2], N = p[4];
    return memory::desc({std::max(p[0], p[1]), M, N}, dt::f32, memory::dims{M * N, N, 1});
  }
};

std::unordered_map<std::string, std::unique_ptr<MatMul>> matmulCache;

// matmul(params, a, b, c)
Napi::Value MatMulFn(const Napi::CallbackInfo& info) {
  auto p = intArgs(info[0], 7, "matmul params");
  return guarded(info, "matmul", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& m = cached(matmulCache, p);
    float* a = f32(info[1], m.aSize, "matmul a");
    float* b = f32(info[2], m.bSize, "matmul b");
    float* c = f32(info[3], m.cSize, "matmul c");
    m.prim.execute(strm(), {{DNNL_ARG_SRC, memory(m.a, eng(), a)},
                            {DNNL_ARG_WEIGHTS, memory(m.b, eng(), b)},
                            {DNNL_ARG_DST, memory(m.c, eng(), c)}});
    strm().wait();
  });
}


// ---- element-wise and reductions --------------------------------------------------------------------------------
// The ops around every convolution in a U-Net (instance norm's moments and affine, LeakyReLU, residual adds) and
// their gradients are memory-bound loops that tfjs' cpu backend runs on one core, often after a full transpose.
// These OpenMP loops (the same libgomp pool oneDNN uses) do them in one pass over channels-last data.

// CopyA ignores b: a strided copy, which is how slices (and SplitV, concat's gradient) run.
// Greater writes a Uint8Array (tfjs' bool storage); it and Select are LeakyReLU's gradient (where(x > 0, dy, a*dy)).
enum class BinOp { Add = 0, Sub, Mul, Div, SquaredDifference, Maximum, Minimum, CopyA, Greater };

template <BinOp op>
inline float apply(float a, float b) {
  if constexpr (op == BinOp::Add) return a + b;
  if constexpr (op == BinOp::Sub) return a - b;
  if constexpr (op == BinOp::Mul) return a * b;
  if constexpr (op == BinOp::Div) return a / b;
  if constexpr (op == BinOp::SquaredDifference) return (a - b) * (a - b);
  // NaN propagates like JS Math.max/min (tfjs' kernels), so a diverging loss still shows up as NaN.
  if constexpr (op == BinOp::Maximum) return a != a || b != b ? a + b : (a > b ? a : b);
  if constexpr (op == BinOp::Minimum) return a != a || b != b ? a + b : (a < b ? a : b);
  if constexpr (op == BinOp::CopyA) return a;
  if constexpr (op == BinOp::Greater) return a > b ? 1.0f : 0.0f;
}

constexpr int64_t kBlock = 8192;

// out[i] = a[i . strideA] op b[i . strideB] over a (coalesced) out shape of up to 6 dims; stride 0 broadcasts.
template <BinOp op, typename OutT = float>
void binaryLoop(const std::vector<int64_t>& shape, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb,
                const float* a, const float* b, OutT* out) {
  const int nd = static_cast<int>(shape.size());
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= shape[d];
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < rows * blocks; ++task) {
    int64_t row = task / blocks, blk = task % blocks;
    int64_t offA = 0, offB = 0, rem = row;
    for (int d = nd - 2; d >= 0; --d) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      offA += idx * sa[d];
      offB += idx * sb[d];
    }
    const int64_t begin = blk * kBlock, end = std::min(inner, begin + kBlock);
    OutT* o = out + row * inner;
    const float* pa = a + offA;
    const float* pb = b + offB;
    if (ia == 1 && ib == 1) {
      for (int64_t i = begin; i < end; ++i) o[i] = apply<op>(pa[i], pb[i]);
    } else if (ia == 1 && ib == 0) {
      const float vb = pb[0];
      for (int64_t i = begin; i < end; ++i) o[i] = apply<op>(pa[i], vb);
    } else if (ia == 0 && ib == 1) {
      const float va = pa[0];
      for (int64_t i = begin; i < end; ++i) o[i] = apply<op>(va, pb[i]);
    } else {
      for (int64_t i = begin; i < end; ++i) o[i] = apply<op>(pa[i * ia], pb[i * ib]);
    }
  }
}

// binary(op, shape, stridesA, stridesB, a, b, out): shape and strides in elements, already broadcast and coalesced.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  int op = info[0].As<Napi::Number>().Int32Value();
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "binary: shape must be an array");
  size_t nd = info[1].As<Napi::Array>().Length();
  if (nd < 1 || nd > 6) throw Napi::RangeError::New(env, "binary: 1 to 6 dims expected");
  auto shape = intArgs(info[1], nd, "binary shape");
  auto sa = intArgs(info[2], nd, "binary stridesA");
  auto sb = intArgs(info[3], nd, "binary stridesB");
  int64_t n = 1, lastA = 0, lastB = 0;
  for (size_t d = 0; d < nd; ++d) {
    n *= shape[d];
    lastA += (shape[d] - 1) * sa[d];
    lastB += (shape[d] - 1) * sb[d];
  }
  auto check = [&](const Napi::Value& v, int64_t minLen, const char* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, std::string("binary ") + what + ": expected a Float32Array");
    auto arr = v.As<Napi::Float32Array>();
    if (static_cast<int64_t>(arr.ElementLength()) < minLen)
      throw Napi::RangeError::New(env, std::string("binary ") + what + ": too short for the given shape and strides");
    return arr.Data();
  };
  const float* a = check(info[4], n == 0 ? 0 : lastA + 1, "a");
  const float* b = check(info[5], n == 0 ? 0 : lastB + 1, "b");
  if (static_cast<BinOp>(op) == BinOp::Greater) {
    auto o = info[6].As<Napi::TypedArray>();
    if (!info[6].IsTypedArray() || o.TypedArrayType() != napi_uint8_array || static_cast<int64_t>(o.ElementLength()) != n)
      throw Napi::TypeError::New(env, "binary greater: out must be a Uint8Array of the output size");
    if (n > 0) binaryLoop<BinOp::Greater, uint8_t>(shape, sa, sb, a, b, info[6].As<Napi::Uint8Array>().Data());
    return env.Undefined();
  }
  float* out = f32(info[6], n, "binary out");
  if (n == 0) return env.Undefined();
  switch (static_cast<BinOp>(op)) {
    case BinOp::Add: binaryLoop<BinOp::Add>(shape, sa, sb, a, b, out); break;
    case BinOp::Sub: binaryLoop<BinOp::Sub>(shape, sa, sb, a, b, out); break;
    case BinOp::Mul: binaryLoop<BinOp::Mul>(shape, sa, sb, a, b, out); break;
    case BinOp::Div: binaryLoop<BinOp::Div>(shape, sa, sb, a, b, out); break;
    case BinOp::SquaredDifference: binaryLoop<BinOp::SquaredDifference>(shape, sa, sb, a, b, out); break;
    case BinOp::Maximum: binaryLoop<BinOp::Maximum>(shape, sa, sb, a, b, out); break;
    case BinOp::Minimum: binaryLoop<BinOp::Minimum>(shape, sa, sb, a, b, out); break;
    case BinOp::CopyA: binaryLoop<BinOp::CopyA>(shape, sa, sb, a, b, out); break;
    default: throw Napi::RangeError::New(env, "binary: unknown op " + std::to_string(op));
  }
  return env.Undefined();
}

// select(condition Uint8Array, t, e, out): out = condition ? t : e, all the same length.
Napi::Value Select(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "select: condition must be a Uint8Array");
  auto cond = info[0].As<Napi::Uint8Array>();
  int64_t n = static_cast<int64_t>(cond.ElementLength());
  const uint8_t* c = cond.Data();
  const float* t = f32(info[1], n, "select t");
  const float* e = f32(info[2], n, "select e");
  float* out = f32(info[3], n, "select out");
  // Both loads unconditional, so the selection is a blend and the loop vectorises.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float tv = t[i], ev = e[i];
    out[i] = c[i] ? tv : ev;
  }
  return env.Undefined();
}

// leakyRelu(alpha, x, y)
Napi::Value LeakyRelu(const Napi::CallbackInfo& info) {
  float alpha = info[0].As<Napi::Number>().FloatValue();
  auto xa = info[1].As<Napi::Float32Array>();
  int64_t n = static_cast<int64_t>(xa.ElementLength());
  const float* x = f32(info[1], n, "leakyRelu x");
  float* y = f32(info[2], n, "leakyRelu y");
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
  return info.Env().Undefined();
}

// reduce(op, A, R, B, x, out): out[a, b] = op over r of x[a, r, b], op 0 = sum, 1 = mean, 2 = max. Sums accumulate
// in double like tfjs' JS kernels (JS numbers), so results agree to float32 rounding, and in per-thread chunks of r
// so that a reduction with few outputs (instance-norm statistics: N x C) still uses every core.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  const int64_t A = info[1].As<Napi::Number>().Int64Value(), R = info[2].As<Napi::Number>().Int64Value(),
                B = info[3].As<Napi::Number>().Int64Value();
  const float* x = f32(info[4], A * R * B, "reduce x");
  float* out = f32(info[5], A * B, "reduce out");
  if (A * B == 0) return info.Env().Undefined();
  if (R == 0) throw Napi::RangeError::New(info.Env(), "reduce: empty reduction");
  const bool isMax = op == 2;
  if (B == 1 && A >= 64) {
    // A reduction over the innermost axis with many outputs (softmax over the classes of every voxel): one
    // accumulator per output, the outputs spread over the cores.
#pragma omp parallel for schedule(static)
    for (int64_t a = 0; a < A; ++a) {
      const float* row = x + a * R;
      double v = isMax ? row[0] : 0.0;
      for (int64_t r = isMax ? 1 : 0; r < R; ++r) {
        v = isMax ? (row[r] > v || row[r] != row[r] ? row[r] : v) : v + row[r];
      }
      out[a] = static_cast<float>(op == 1 ? v / static_cast<double>(R) : v);
    }
    return info.Env().Undefined();
  }
  // Enough outputs (A) already spread over the cores; splitting a short reduction into chunks as well would only
  // multiply the bookkeeping.
  const int64_t chunks = A >= 64 ? 1 : std::max<int64_t>(1, std::min<int64_t>(R, 64));
  std::vector<double> partial(static_cast<size_t>(A * chunks * B));
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < A * chunks; ++task) {
    const int64_t a = task / chunks, c = task % chunks;
    const int64_t r0 = R * c / chunks, r1 = R * (c + 1) / chunks;
    double* acc = partial.data() + task * B;
    const float* base = x + a * R * B;
    for (int64_t b = 0; b < B; ++b) acc[b] = isMax ? base[r0 * B + b] : 0.0;
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = base + r * B;
      if (isMax) {
        for (int64_t b = 0; b < B; ++b) acc[b] = row[b] > acc[b] || row[b] != row[b] ? row[b] : acc[b];
      } else {
        for (int64_t b = 0; b < B; ++b) acc[b] += row[b];
      }
    }
  }
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) {
      double v = partial[(a * chunks) * B + b];
      for (int64_t c = 1; c < chunks; ++c) {
        double w = partial[(a * chunks + c) * B + b];
        v = isMax ? (w > v || w != w ? w : v) : v + w;
      }
      out[a * B + b] = static_cast<float>(op == 1 ? v / static_cast<double>(R) : v);
    }
  }
  return info.Env().Undefined();
}

// ---- housekeeping -----------------------------------------------------------------------------------------------

Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  auto o = Napi::Object::New(info.Env());
  o.Set("major", v->major);
  o.Set("minor", v->minor);
  o.Set("patch", v->patch);
  o.Set("cpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP"
                      : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                      : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                           : "other");
  return o;
}

// keepLargeBlocks(trimThreshold): makes glibc serve every allocation from its heap instead of a fresh mmap per large
// block, and keep up to trimThreshold bytes of freed heap instead of returning it to the kernel. A training step frees
// and re-allocates hundreds of same-sized tensor buffers, many above glibc's 32 MB mmap ceiling (2 x 64^3 x 16 floats
// is 33.5 MB); as fresh mappings every page of each is faulted in and zeroed by the kernel (measured: 16 ms per
// 33 MB buffer vs 8 ms reused). Returns false where the C library is not glibc.
Napi::Value KeepLargeBlocks(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const double trim = info[0].As<Napi::Number>().DoubleValue();
  const int keep = static_cast<int>(std::min(trim, 2147483647.0));
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, keep) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// Drops every cached primitive (and the weight buffers they own), e.g. after a run with many distinct shapes.
Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(onednnMutex);
  fwdCache.clear();
  bwdDataCache.clear();
  bwdWeightsCache.clear();
  matmulCache.clear();
  return info.Env().Undefined();
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(onednnMutex);
  return Napi::Number::New(info.Env(), static_cast<double>(fwdCache.size() + bwdDataCache.size() +
                                                           bwdWeightsCache.size() + matmulCache.size()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("convBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
  exports.Set("matmul", Napi::Function::New(env, MatMulFn));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("select", Napi::Function::New(env, Select));
  exports.Set("leakyRelu", Napi::Function::New(env, LeakyRelu));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  exports.Set("cacheSize", Napi::Function::New(env, CacheSize));
  exports.Set("keepLargeBlocks", Napi::Function::New(env, KeepLargeBlocks));
  nnssl::registerInstanceNorm(env, exports);
  nnssl::registerUnary(env, exports);
  nnssl::registerConcat(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nnssl_onednn, Init)
