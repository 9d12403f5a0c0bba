// Fused instance norm (+ optional LeakyReLU) on channels-last data, forward and backward, for the `cpu-onednn`
// backend (sdk/backend/fused-norm.ts). Composed from tfjs ops, one normalisation is ~8 full passes forward and ~15
// backward (sub, square, mean, mul, add, the activation, and each op's gradient with its broadcast reductions); here it
// is 2 forward (statistics, output) and 2 backward (sums, input gradient), each spread over the cores with OpenMP.
//
// Layout: x is [N, S, C] (S = product of the spatial dims, C innermost, as tfjs stores NDHWC). Statistics are per
// (n, c) over S, accumulated in double, so the result is at least as accurate as PyTorch's float accumulation.
// The per-row loops are separate functions with __restrict parameters: that is the form GCC reliably vectorises
// (inside lambdas it could not prove the output does not alias a captured float, and ran ~10x slower).

#include <algorithm>
#include <cmath>
#include <vector>

#include "args.h"

namespace nnssl {
namespace {

// ---- row kernels (one row = the C channels of one voxel) ---------------------------------------------------------

// a += x, b += x^2
inline void rowMoments(int64_t C, const float* __restrict x, double* __restrict a, double* __restrict b) {
  for (int64_t c = 0; c < C; ++c) {
    const double v = x[c];
    a[c] += v;
    b[c] += v * v;
  }
}

// y = act((x - m) * scale + beta); LeakyReLU written branch-free (NaN stays NaN) so the loop vectorises.
inline void rowNormalize(int64_t C, const float* __restrict x, const float* __restrict m, const float* __restrict scale,
                         const float* __restrict beta, float slope, bool act, float* __restrict y) {
  if (act) {
    for (int64_t c = 0; c < C; ++c) {
      const float v = (x[c] - m[c]) * scale[c] + beta[c];
      y[c] = std::max(v, 0.0f) + slope * std::min(v, 0.0f);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - m[c]) * scale[c] + beta[c];
  }
}

// g = dy * act'(y), written to g (a C-long scratch row): the activation's gradient from the sign of the output y,
// which is the pre-activation's sign for slope >= 0 (y = 0 takes the slope, like torch's `x > 0` test).
inline void rowActGrad(int64_t C, const float* __restrict dy, const float* __restrict y, float slope, bool act,
                       float* __restrict g) {
  if (act) {
    for (int64_t c = 0; c < C; ++c) g[c] = dy[c] * (y[c] > 0 ? 1.0f : slope);
  } else {
    for (int64_t c = 0; c < C; ++c) g[c] = dy[c];
  }
}

// a += g, b += g * (x - m) * r
inline void rowGradSums(int64_t C, const float* __restrict g, const float* __restrict x, const float* __restrict m,
                        const float* __restrict r, double* __restrict a, double* __restrict b) {
  for (int64_t c = 0; c < C; ++c) {
    a[c] += g[c];
    b[c] += static_cast<double>(g[c]) * ((x[c] - m[c]) * r[c]);
  }
}

// dx = k * g + b1 * (x - m) + b0
inline void rowInputGrad(int64_t C, const float* __restrict g, const float* __restrict x, const float* __restrict m,
                         const float* __restrict k, const float* __restrict b1, const float* __restrict b0,
                         float* __restrict dx) {
  for (int64_t c = 0; c < C; ++c) dx[c] = k[c] * g[c] + b1[c] * (x[c] - m[c]) + b0[c];
}

// ---- parallel drivers ------------------------------------------------------------------------------------------

// Each sample's S rows are split into this many chunks so that even N = 1 spreads over every core; per-chunk partial
// sums are combined in a fixed order, so results do not depend on the thread count.
int64_t chunksFor(int64_t S) { return std::max<int64_t>(1, std::min<int64_t>(S, 64)); }

// Runs body(task, n, s0, s1) over every sample's rows split into chunksFor(S) pieces, in parallel.
template <typename Body>
void forChunks(int64_t N, int64_t S, Body body) {
  const int64_t chunks = chunksFor(S);
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < N * chunks; ++task) {
    const int64_t n = task / chunks, k = task % chunks;
    body(task, n, S * k / chunks, S * (k + 1) / chunks);
  }
}

// Per (n, c): two sums over s, where `rows(n, s0, s1, a, b)` adds rows [s0, s1) of sample n to the C-long
// accumulators a and b (distinct, zeroed, private to the chunk).
template <typename Rows>
void sumsOverS(int64_t N, int64_t S, int64_t C, Rows rows, std::vector<double>& outA, std::vector<double>& outB) {
  const int64_t chunks = chunksFor(S);
  std::vector<double> partial(static_cast<size_t>(N * chunks * 2 * C), 0.0);
  forChunks(N, S, [&](int64_t task, int64_t n, int64_t s0, int64_t s1) {
    double* base = partial.data() + task * 2 * C;
    rows(n, s0, s1, base, base + C);
  });
  outA.assign(static_cast<size_t>(N * C), 0.0);
  outB.assign(static_cast<size_t>(N * C), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < chunks; ++k) {
      const double* a = partial.data() + (n * chunks + k) * 2 * C;
      const double* b = a + C;
      for (int64_t c = 0; c < C; ++c) {
        outA[n * C + c] += a[c];
        outB[n * C + c] += b[c];
      }
    }
  }
}

// ---- exported functions ------------------------------------------------------------------------------------------

// instanceNormForward([N, S, C], eps, slope, x, gamma[C], beta[C], y, mean[N*C], rstd[N*C])
// y = act(gamma * (x - mean) * rstd + beta); slope NaN = no activation, 0 = ReLU, otherwise LeakyReLU.
Napi::Value Forward(const Napi::CallbackInfo& info) {
  auto dims = intArgs(info[0], 3, "instanceNormForward dims");
  const int64_t N = dims[0], S = dims[1], C = dims[2];
  const double eps = info[1].As<Napi::Number>().DoubleValue();
  const float slope = info[2].As<Napi::Number>().FloatValue();
  const bool act = !std::isnan(slope);
  const float* x = f32(info[3], N * S * C, "instanceNormForward x");
  const float* gamma = f32(info[4], C, "instanceNormForward gamma");
  const float* beta = f32(info[5], C, "instanceNormForward beta");
  float* y = f32(info[6], N * S * C, "instanceNormForward y");
  float* mean = f32(info[7], N * C, "instanceNormForward mean");
  float* rstd = f32(info[8], N * C, "instanceNormForward rstd");
  if (N * C == 0) return info.Env().Undefined();
  if (S == 0) throw Napi::RangeError::New(info.Env(), "instanceNormForward: no spatial elements");

  std::vector<double> sum, sumSq;
  sumsOverS(N, S, C, [&](int64_t n, int64_t s0, int64_t s1, double* a, double* b) {
    for (int64_t s = s0; s < s1; ++s) rowMoments(C, x + (n * S + s) * C, a, b);
  }, sum, sumSq);
  // Per (n, c): y = (x - mean) * scale + beta. Centring first (rather than folding the mean into a shift) keeps the
  // precision when the mean is large relative to the spread, as it is after a convolution with a bias.
  std::vector<float> scale(static_cast<size_t>(N * C));
  for (int64_t i = 0; i < N * C; ++i) {
    const double m = sum[i] / static_cast<double>(S);
    const double var = std::max(0.0, sumSq[i] / static_cast<double>(S) - m * m);
    const double r = 1.0 / std::sqrt(var + eps);
    mean[i] = static_cast<float>(m);
    rstd[i] = static_cast<float>(r);
    scale[i] = static_cast<float>(gamma[i % C] * r);
  }
  forChunks(N, S, [&](int64_t, int64_t n, int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t off = (n * S + s) * C;
      rowNormalize(C, x + off, mean + n * C, scale.data() + n * C, beta, slope, act, y + off);
    }
  });
  return info.Env().Undefined();
}

// instanceNormBackward([N, S, C], slope, dy, x, y, mean, rstd, gamma, dx, dgamma[C], dbeta[C])
// With g = dy * act'(y) and xhat = (x - mean) * rstd:  dbeta = sum g,  dgamma = sum g * xhat  (over n and s),
// dx = gamma * rstd * (g - mean_s(g) - xhat * mean_s(g * xhat))  per (n, c).
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto dims = intArgs(info[0], 3, "instanceNormBackward dims");
  const int64_t N = dims[0], S = dims[1], C = dims[2];
  const float slope = info[1].As<Napi::Number>().FloatValue();
  const bool act = !std::isnan(slope);
  const float* dy = f32(info[2], N * S * C, "instanceNormBackward dy");
  const float* x = f32(info[3], N * S * C, "instanceNormBackward x");
  // Without an activation y is not read; it still has to be a Float32Array of the right length.
  const float* y = f32(info[4], N * S * C, "instanceNormBackward y");
  const float* mean = f32(info[5], N * C, "instanceNormBackward mean");
  const float* rstd = f32(info[6], N * C, "instanceNormBackward rstd");
  const float* gamma = f32(info[7], C, "instanceNormBackward gamma");
  float* dx = f32(info[8], N * S * C, "instanceNormBackward dx");
  float* dgamma = f32(info[9], C, "instanceNormBackward dgamma");
  float* dbeta = f32(info[10], C, "instanceNormBackward dbeta");
  if (N * C == 0 || S == 0) {
    std::fill(dgamma, dgamma + C, 0.0f);
    std::fill(dbeta, dbeta + C, 0.0f);
    return info.Env().Undefined();
  }

  std::vector<double> sumG, sumGX;
  sumsOverS(N, S, C, [&](int64_t n, int64_t s0, int64_t s1, double* a, double* b) {
    std::vector<float> g(static_cast<size_t>(C));
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t off = (n * S + s) * C;
      rowActGrad(C, dy + off, y + off, slope, act, g.data());
      rowGradSums(C, g.data(), x + off, mean + n * C, rstd + n * C, a, b);
    }
  }, sumG, sumGX);
  for (int64_t c = 0; c < C; ++c) {
    double gb = 0, gg = 0;
    for (int64_t n = 0; n < N; ++n) {
      gb += sumG[n * C + c];
      gg += sumGX[n * C + c];
    }
    dbeta[c] = static_cast<float>(gb);
    dgamma[c] = static_cast<float>(gg);
  }
  // dx = k * g + b1 * (x - mean) + b0 per (n, c), with k = gamma * rstd, b1 = -k * rstd * mean_s(g xhat),
  // b0 = -k * mean_s(g).
  std::vector<float> k(static_cast<size_t>(N * C)), b1(k.size()), b0(k.size());
  for (int64_t i = 0; i < N * C; ++i) {
    const double kk = static_cast<double>(gamma[i % C]) * rstd[i];
    k[i] = static_cast<float>(kk);
    b1[i] = static_cast<float>(-kk * rstd[i] * (sumGX[i] / static_cast<double>(S)));
    b0[i] = static_cast<float>(-kk * (sumG[i] / static_cast<double>(S)));
  }
  forChunks(N, S, [&](int64_t, int64_t n, int64_t s0, int64_t s1) {
    std::vector<float> g(static_cast<size_t>(C));
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t off = (n * S + s) * C;
      rowActGrad(C, dy + off, y + off, slope, act, g.data());
      rowInputGrad(C, g.data(), x + off, mean + n * C, k.data() + n * C, b1.data() + n * C, b0.data() + n * C, dx + off);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void registerInstanceNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("instanceNormForward", Napi::Function::New(env, Forward));
  exports.Set("instanceNormBackward", Napi::Function::New(env, Backward));
}

}  // namespace nnssl
