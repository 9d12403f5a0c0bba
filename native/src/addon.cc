// nnssl_onednn: the few oneDNN primitives the tfjs `cpu-onednn` backend needs (sdk/backend/onednn-kernels.ts).
// Every function is synchronous (tfjs kernels are) and reads/writes the caller's Float32Arrays in place, so the only
// copies are the reorders oneDNN itself asks for (weights into its blocked layout). Activations stay channels-last
// (tfjs NDHWC = oneDNN "ndhwc"), which oneDNN 2.x's jit convolutions handle natively; filters are DHWIO ("dhwio").
// Primitives are built once per shape and cached; oneDNN's OpenMP runtime spreads each call over all cores.

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

// ---- argument helpers -------------------------------------------------------------------------------------------

std::vector<int64_t> intArgs(const Napi::Value& v, size_t expected, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
  auto arr = v.As<Napi::Array>();
  if (arr.Length() != expected) {
    throw Napi::RangeError::New(v.Env(), std::string(what) + ": expected " + std::to_string(expected) +
                                             " integers, got " + std::to_string(arr.Length()));
  }
  std::vector<int64_t> out(expected);
  for (uint32_t i = 0; i < expected; ++i) out[i] = arr.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

// Returns the data pointer of a Float32Array after checking it holds exactly `n` elements: a wrong size here would
// let oneDNN read or write outside the JS buffer, so this check is what keeps a JS-side bug from corrupting memory.
float* f32(const Napi::Value& v, int64_t n, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != n) {
    throw Napi::RangeError::New(v.Env(), std::string(what) + ": expected " + std::to_string(n) + " elements, got " +
                                             std::to_string(a.ElementLength()));
  }
  return a.Data();
}

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

// Drops every cached primitive (and the weight buffers they own), e.g. after a run with many distinct shapes.
Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  fwdCache.clear();
  bwdDataCache.clear();
  bwdWeightsCache.clear();
  matmulCache.clear();
  return info.Env().Undefined();
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(fwdCache.size() + bwdDataCache.size() +
                                                           bwdWeightsCache.size() + matmulCache.size()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("convBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
  exports.Set("matmul", Napi::Function::New(env, MatMulFn));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  exports.Set("cacheSize", Napi::Function::New(env, CacheSize));
  return exports;
}

}  // namespace

NODE_API_MODULE(nnssl_onednn, Init)
