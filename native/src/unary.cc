// Element-wise unary math for the `cpu-onednn` backend (sdk/backend/native-elementwise.ts): the exp/log of softmax
// and cross-entropy, and the other one-input ops a training step runs on full-size tensors. tfjs' cpu kernels loop
// over them on one core with a JS call per element; these are vectorisable loops spread over the cores.

#include <cmath>

#include "args.h"

namespace nnssl {
namespace {

enum class UnaryOp { Exp = 0, Log, Neg, Square, Sqrt, Rsqrt, Sigmoid, Relu, Abs };

template <UnaryOp op>
void unaryLoop(int64_t n, const float* __restrict x, float* __restrict y) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if constexpr (op == UnaryOp::Exp) y[i] = std::exp(v);
    if constexpr (op == UnaryOp::Log) y[i] = std::log(v);
    if constexpr (op == UnaryOp::Neg) y[i] = -v;
    if constexpr (op == UnaryOp::Square) y[i] = v * v;
    if constexpr (op == UnaryOp::Sqrt) y[i] = std::sqrt(v);
    if constexpr (op == UnaryOp::Rsqrt) y[i] = 1.0f / std::sqrt(v);
    if constexpr (op == UnaryOp::Sigmoid) y[i] = 1.0f / (1.0f + std::exp(-v));
    // Like tfjs' relu: NaN stays NaN.
    if constexpr (op == UnaryOp::Relu) y[i] = v < 0 ? 0.0f : v;
    if constexpr (op == UnaryOp::Abs) y[i] = std::fabs(v);
  }
}

// unary(op, x, y): y = op(x), same lengths.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "unary x: expected a Float32Array");
  const int64_t n = static_cast<int64_t>(info[1].As<Napi::TypedArray>().ElementLength());
  const float* x = f32(info[1], n, "unary x");
  float* y = f32(info[2], n, "unary y");
  switch (static_cast<UnaryOp>(op)) {
    case UnaryOp::Exp: unaryLoop<UnaryOp::Exp>(n, x, y); break;
    case UnaryOp::Log: unaryLoop<UnaryOp::Log>(n, x, y); break;
    case UnaryOp::Neg: unaryLoop<UnaryOp::Neg>(n, x, y); break;
    case UnaryOp::Square: unaryLoop<UnaryOp::Square>(n, x, y); break;
    case UnaryOp::Sqrt: unaryLoop<UnaryOp::Sqrt>(n, x, y); break;
    case UnaryOp::Rsqrt: unaryLoop<UnaryOp::Rsqrt>(n, x, y); break;
    case UnaryOp::Sigmoid: unaryLoop<UnaryOp::Sigmoid>(n, x, y); break;
    case UnaryOp::Relu: unaryLoop<UnaryOp::Relu>(n, x, y); break;
    case UnaryOp::Abs: unaryLoop<UnaryOp::Abs>(n, x, y); break;
    default: throw Napi::RangeError::New(info.Env(), "unary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
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

}  // namespace

void registerUnary(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("leakyRelu", Napi::Function::New(env, LeakyRelu));
}

}  // namespace nnssl
