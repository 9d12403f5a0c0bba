// Concat and its gradient (split) along any axis, for the `cpu-onednn` backend (sdk/backend/native-elementwise.ts):
// the decoder's skip concatenation of a U-Net, channels-last, i.e. along the innermost axis, where every voxel
// contributes a short run of each input. tfjs' kernels copy those runs through per-element index arithmetic.

#include <vector>

#include "args.h"

namespace nnssl {
namespace {

// The [outer, inner_i] views of `count` arrays side by side in one [outer, sum(inner_i)] array.
struct Layout {
  std::vector<int64_t> inners, offsets;
  int64_t total = 0;
  Layout(const Napi::Value& innersArg, uint32_t count, const char* what) : inners(intArgs(innersArg, count, what)) {
    offsets.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      if (inners[i] < 0) throw Napi::RangeError::New(innersArg.Env(), std::string(what) + ": negative size");
      offsets[i] = total;
      total += inners[i];
    }
  }
};

std::vector<float*> arrays(const Napi::Value& list, int64_t outer, const Layout& l, const char* what) {
  std::vector<float*> out(l.inners.size());
  for (uint32_t i = 0; i < out.size(); ++i) out[i] = f32(list.As<Napi::Array>().Get(i), outer * l.inners[i], what);
  return out;
}

uint32_t countOf(const Napi::CallbackInfo& info, const char* what) {
  if (!info[1].IsArray() || !info[2].IsArray())
    throw Napi::TypeError::New(info.Env(), std::string(what) + ": sizes and arrays must be arrays");
  const uint32_t count = info[1].As<Napi::Array>().Length();
  if (info[2].As<Napi::Array>().Length() != count)
    throw Napi::RangeError::New(info.Env(), std::string(what) + ": one size per array expected");
  return count;
}

// concat(outer, inners, inputs, out): out [outer, sum(inners)] = the inputs [outer, inners[i]] side by side.
Napi::Value Concat(const Napi::CallbackInfo& info) {
  const int64_t outer = int64Arg(info[0], "concat outer");
  const Layout l(info[1], countOf(info, "concat"), "concat sizes");
  const auto in = arrays(info[2], outer, l, "concat input");
  float* out = f32(info[3], outer * l.total, "concat out");
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < in.size(); ++i) {
      const float* __restrict src = in[i] + o * l.inners[i];
      float* __restrict dst = out + o * l.total + l.offsets[i];
      for (int64_t j = 0; j < l.inners[i]; ++j) dst[j] = src[j];
    }
  }
  return info.Env().Undefined();
}

// split(outer, inners, outputs, x): the inverse of concat, x [outer, sum(inners)] into outputs [outer, inners[i]].
Napi::Value Split(const Napi::CallbackInfo& info) {
  const int64_t outer = int64Arg(info[0], "split outer");
  const Layout l(info[1], countOf(info, "split"), "split sizes");
  const auto outs = arrays(info[2], outer, l, "split output");
  const float* x = f32(info[3], outer * l.total, "split x");
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < outs.size(); ++i) {
      const float* __restrict src = x + o * l.total + l.offsets[i];
      float* __restrict dst = outs[i] + o * l.inners[i];
      for (int64_t j = 0; j < l.inners[i]; ++j) dst[j] = src[j];
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void registerConcat(Napi::Env env, Napi::Object exports) {
  exports.Set("concat", Napi::Function::New(env, Concat));
  exports.Set("split", Napi::Function::New(env, Split));
}

}  // namespace nnssl
