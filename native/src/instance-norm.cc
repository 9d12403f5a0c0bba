// Fused instance norm (+ optional LeakyReLU) on channels-last data, forward and backward, for the `cpu-onednn`
// backend (sdk/backend/fused-norm.ts). Composed from tfjs ops, one normalisation is ~8 full passes forward and ~15
// backward (sub, square, mean, mul, add, the activation, and each op's gradient with its broadcast reductions); here it
// is 2 forward (statistics, output) and 2 backward (sums, input gradient), each spread over the cores with OpenMP.
//
// Layout: x is [N, S, C] (S = product of the spatial dims, C innermost, as tfjs stores NDHWC). Statistics are per
// (n, c) over S, accumulated in double, so the result is at least as accurate as PyTorch's float accumulation.

#include <algorithm>
#include <cmath>
#include <vector>

#include "args.h"

namespace nnssl {
namespace {

// Each sample's S rows are split into this many chunks so that even N = 1 spreads over every core; per-chunk partial
// sums are combined in a fixed order, so results do not depend on the thread count.
int64_t chunksFor(int64_t S) { return std::max<int64_t>(1, std::min<int64_t>(S, 64)); }

// Per (n, c): two sums over s, where `each(n, s, a, b)` adds row (n, s)'s terms to the C-long accumulators a and b.
template <typename Terms>
void sumsOverS(int64_t N, int64_t S, int64_t C, Terms each, std::vector<double>& outA, std::vector<double>& outB) {
  const int64_t chunks = chunksFor(S);
  std::vector<double> pa(static_cast<size_t>(N * chunks * C), 0.0), pb(pa.size(), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < N * chunks; ++task) {
    const int64_t n = task / chunks, k = task % chunks;
    const int64_t s0 = S * k / chunks, s1 = S * (k + 1) / chunks;
    double* a = pa.data() + task * C;
    double* b = pb.data() + task * C;
    for (int64_t s = s0; s < s1; ++s) each(n, s, a, b);
  }
  outA.assign(static_cast<size_t>(N * C), 0.0);
  outB.assign(static_cast<size_t>(N * C), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < chunks; ++k) {
      const double* a = pa.data() + (n * chunks + k) * C;
      const double* b = pb.data() + (n * chunks + k) * C;
      for (int64_t c = 0; c < C; ++c) {
        outA[n * C + c] += a[c];
        outB[n * C + c] += b[c];
      }
    }
  }
}

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
  sumsOverS(N, S, C, [&](int64_t n, int64_t s, double* a, double* b) {
    const float* row = x + (n * S + s) * C;
    for (int64_t c = 0; c < C; ++c) {
      const double v = row[c];
      a[c] += v;
      b[c] += v * v;
    }
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
    const double g = gamma[i % C];
    scale[i] = static_cast<float>(g * r);
  }
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < N * S; ++row) {
    const int64_t n = row / S;
    const float* xr = x + row * C;
    float* yr = y + row * C;
    const float* sc = scale.data() + n * C;
    const float* m = mean + n * C;
    if (act) {
      for (int64_t c = 0; c < C; ++c) {
        const float v = (xr[c] - m[c]) * sc[c] + beta[c];
        yr[c] = v > 0 ? v : v * slope;
      }
    } else {
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m[c]) * sc[c] + beta[c];
    }
  }
  return info.Env().Undefined();
}

// instanceNormBackward([N, S, C], slope, dy, x, y, mean, rstd, gamma, dx, dgamma[C], dbeta[C])
// With g = dy * act'(y) (act' from the sign of the output y, which equals the pre-activation's sign for slope >= 0)
// and xhat = (x - mean) * rstd:  dbeta = sum g,  dgamma = sum g * xhat  (over n and s),
// dx = gamma * rstd * (g - mean_s(g) - xhat * mean_s(g * xhat))  per (n, c).
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto dims = intArgs(info[0], 3, "instanceNormBackward dims");
  const int64_t N = dims[0], S = dims[1], C = dims[2];
  const float slope = info[1].As<Napi::Number>().FloatValue();
  const bool act = !std::isnan(slope);
  const float* dy = f32(info[2], N * S * C, "instanceNormBackward dy");
  const float* x = f32(info[3], N * S * C, "instanceNormBackward x");
  // Without an activation y is not needed; any Float32Array of the right length (or of length 0) is accepted.
  const float* y = act ? f32(info[4], N * S * C, "instanceNormBackward y") : nullptr;
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
  sumsOverS(N, S, C, [&](int64_t n, int64_t s, double* a, double* b) {
    const int64_t off = (n * S + s) * C;
    const float* m = mean + n * C;
    const float* r = rstd + n * C;
    for (int64_t c = 0; c < C; ++c) {
      float g = dy[off + c];
      if (act && !(y[off + c] > 0)) g *= slope;
      a[c] += g;
      b[c] += static_cast<double>(g) * ((x[off + c] - m[c]) * r[c]);
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
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < N * S; ++row) {
    const int64_t n = row / S, off = row * C;
    const float* kr = k.data() + n * C;
    const float* b1r = b1.data() + n * C;
    const float* b0r = b0.data() + n * C;
    const float* m = mean + n * C;
    for (int64_t c = 0; c < C; ++c) {
      float g = dy[off + c];
      if (act && !(y[off + c] > 0)) g *= slope;
      dx[off + c] = kr[c] * g + b1r[c] * (x[off + c] - m[c]) + b0r[c];
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void registerInstanceNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("instanceNormForward", Napi::Function::New(env, Forward));
  exports.Set("instanceNormBackward", Napi::Function::New(env, Backward));
}

}  // namespace nnssl
