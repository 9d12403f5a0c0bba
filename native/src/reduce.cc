// Sum, mean and max reductions for the `cpu-onednn` backend (sdk/backend/native-elementwise.ts): instance-norm
// statistics, softmax and the loss reductions, spread over the cores.

#include <algorithm>
#include <vector>

#include "args.h"

namespace nnssl {
namespace {

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
}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, Reduce));
}

}  // namespace nnssl
