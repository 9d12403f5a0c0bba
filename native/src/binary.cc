// Element-wise binary ops and select for the `cpu-onednn` backend (sdk/backend/native-elementwise.ts).
// The ops around every convolution in a U-Net (instance norm's moments and affine, LeakyReLU, residual adds) and
// their gradients are memory-bound loops that tfjs' cpu backend runs on one core, often after a full transpose.
// These OpenMP loops (the same libgomp pool oneDNN uses) do them in one pass over channels-last data.

#include <algorithm>

#include "args.h"

namespace nnssl {
namespace {

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
}  // namespace

void registerBinary(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("select", Napi::Function::New(env, Select));
}

}  // namespace nnssl
