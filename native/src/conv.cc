// Convolutions of the `cpu-onednn` backend (sdk/backend/onednn-kernels.ts): forward and both backward passes in oneDNN.
// Every function is synchronous (tfjs kernels are) and reads/writes the caller's Float32Arrays in place, so the only
// copies are the reorders oneDNN itself asks for (weights into its blocked layout). Activations stay channels-last
// (tfjs NDHWC = oneDNN "ndhwc"), which oneDNN 2.x's jit convolutions handle natively; filters are DHWIO ("dhwio").
// Primitives are built once per shape and cached; oneDNN's OpenMP runtime spreads each call over all cores.

#include "args.h"
#include "onednn.h"

namespace nnssl {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// ---- convolution ------------------------------------------------------------------------------------------------
// Parameters (24 integers), shared by forward and both backward passes:
//   N, C, D, H, W,  O, KD, KH, KW,  OD, OH, OW,  strideD/H/W,  dilationD/H/W (oneDNN convention: 0 = dense),
//   padFront, padTop, padLeft,  padBack, padBottom, padRight
// Conv2D is the D = KD = OD = 1 case: NHWC/HWIO memory is then byte-identical to NDHWC/DHWIO.
// convForward takes an optional 25th integer, 1 for bf16 inference: input and weights are rounded to bf16 (reorders
// into oneDNN-owned buffers), products accumulate in fp32 and the output is fp32, so the caller's buffers stay fp32.

struct ConvShape {
  memory::dims src, wei, dst, strides, dil, padL, padR;
  bool bf16 = false;
  explicit ConvShape(const std::vector<int64_t>& p)
      : src{p[0], p[1], p[2], p[3], p[4]},
        wei{p[5], p[1], p[6], p[7], p[8]},
        dst{p[0], p[5], p[9], p[10], p[11]},
        strides{p[12], p[13], p[14]},
        dil{p[15], p[16], p[17]},
        padL{p[18], p[19], p[20]},
        padR{p[21], p[22], p[23]},
        bf16(p.size() > 24 && p[24] == 1) {}
  int64_t srcSize() const { return src[0] * src[1] * src[2] * src[3] * src[4]; }
  int64_t weiSize() const { return wei[0] * wei[1] * wei[2] * wei[3] * wei[4]; }
  int64_t dstSize() const { return dst[0] * dst[1] * dst[2] * dst[3] * dst[4]; }
  memory::desc srcMd() const { return memory::desc(src, dt::f32, tag::ndhwc); }
  memory::desc dstMd() const { return memory::desc(dst, dt::f32, tag::ndhwc); }
  memory::desc userWeiMd() const { return memory::desc(wei, dt::f32, tag::dhwio); }
  memory::desc anyWeiMd() const { return memory::desc(wei, bf16 ? dt::bf16 : dt::f32, tag::any); }
  // What the primitive reads: the caller's fp32 input, or its bf16 copy.
  memory::desc primSrcMd() const { return memory::desc(src, bf16 ? dt::bf16 : dt::f32, tag::ndhwc); }

  dnnl::convolution_forward::primitive_desc forwardPd(prop_kind kind) const {
    dnnl::convolution_forward::desc d(kind, algorithm::convolution_direct, primSrcMd(), anyWeiMd(), dstMd(), strides, dil,
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

// The bf16 copy of a convolution's input, shared by every bf16 primitive (one runs at a time, under onednnMutex)
// and grown to the largest input seen, so bf16 inference holds one extra half-size buffer, not one per shape.
std::vector<uint16_t> bf16Input;

struct ConvFwd {
  ConvShape s;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsReorder w;
  dnnl::reorder toBf16;
  explicit ConvFwd(const std::vector<int64_t>& p)
      : s(p), pd(s.forwardPd(s.bf16 ? prop_kind::forward_inference : prop_kind::forward_training)), prim(pd) {
    w.init(s.userWeiMd(), pd.weights_desc(), false);
    if (s.bf16) {
      toBf16 = dnnl::reorder(memory(s.srcMd(), eng(), DNNL_MEMORY_NONE), memory(s.primSrcMd(), eng(), DNNL_MEMORY_NONE));
    }
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

std::unordered_map<std::string, std::unique_ptr<ConvFwd>> fwdCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdData>> bwdDataCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdWeights>> bwdWeightsCache;

// convForward(params, x NDHWC, w DHWIO, y NDHWC)
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  const bool hasPrecision = info[0].IsArray() && info[0].As<Napi::Array>().Length() == 25;
  auto p = intArgs(info[0], hasPrecision ? 25 : 24, "convForward params");
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
    memory src(c.s.srcMd(), eng(), x);
    if (c.s.bf16) {
      if (bf16Input.size() < static_cast<size_t>(c.s.srcSize())) bf16Input.resize(static_cast<size_t>(c.s.srcSize()));
      memory half(c.s.primSrcMd(), eng(), bf16Input.data());
      c.toBf16.execute(strm(), src, half);
      src = half;
    }
    c.prim.execute(strm(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, memory(c.s.dstMd(), eng(), y)}});
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
}  // namespace

void clearConvCache() {
  fwdCache.clear();
  bwdDataCache.clear();
  bwdWeightsCache.clear();
  std::vector<uint16_t>().swap(bf16Input);
}

size_t convCacheSize() { return fwdCache.size() + bwdDataCache.size() + bwdWeightsCache.size(); }

void registerConv(Napi::Env env, Napi::Object exports) {
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("convBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
}

}  // namespace nnssl
