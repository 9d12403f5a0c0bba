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
// Each pass takes an optional 25th integer: 1 for bf16 (inference, or mixed-precision training), 2 for bf16 in a
// forward pass whose backward pass follows (training). The operands oneDNN multiplies (input and weights forward, output
// gradient and weights backward-data, input and output gradient backward-weights) are rounded to bf16 (reorders into
// addon-owned buffers); products accumulate in fp32 and every result (output, input gradient, weight gradient) is fp32,
// so the caller's buffers, the master weights and the optimizer state all stay fp32.

struct ConvShape {
  memory::dims src, wei, dst, strides, dil, padL, padR;
  bool bf16 = false;
  bool training = false;
  explicit ConvShape(const std::vector<int64_t>& p)
      : src{p[0], p[1], p[2], p[3], p[4]},
        wei{p[5], p[1], p[6], p[7], p[8]},
        dst{p[0], p[5], p[9], p[10], p[11]},
        strides{p[12], p[13], p[14]},
        dil{p[15], p[16], p[17]},
        padL{p[18], p[19], p[20]},
        padR{p[21], p[22], p[23]},
        bf16(p.size() > 24 && p[24] >= 1),
        training(p.size() > 24 && p[24] == 2) {}
  int64_t srcSize() const { return src[0] * src[1] * src[2] * src[3] * src[4]; }
  int64_t weiSize() const { return wei[0] * wei[1] * wei[2] * wei[3] * wei[4]; }
  int64_t dstSize() const { return dst[0] * dst[1] * dst[2] * dst[3] * dst[4]; }
  memory::desc srcMd() const { return memory::desc(src, dt::f32, tag::ndhwc); }
  memory::desc dstMd() const { return memory::desc(dst, dt::f32, tag::ndhwc); }
  memory::desc userWeiMd() const { return memory::desc(wei, dt::f32, tag::dhwio); }
  memory::desc anyWeiMd() const { return memory::desc(wei, bf16 ? dt::bf16 : dt::f32, tag::any); }
  // The weight gradient is fp32 in both precisions (oneDNN's bf16 backward-weights kernels accumulate into fp32).
  memory::desc anyDiffWeiMd() const { return memory::desc(wei, dt::f32, tag::any); }
  // What the primitives read: the caller's fp32 input / output gradient, or their bf16 copies.
  memory::desc primSrcMd() const { return memory::desc(src, bf16 ? dt::bf16 : dt::f32, tag::ndhwc); }
  memory::desc primDiffDstMd() const { return memory::desc(dst, bf16 ? dt::bf16 : dt::f32, tag::ndhwc); }

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

// The bf16 copies of a convolution's input and of its output gradient, shared by every bf16 primitive (one runs at a
// time, under onednnMutex) and grown to the largest seen, so bf16 holds two extra half-size buffers, not one per shape.
std::vector<uint16_t> bf16Input;
std::vector<uint16_t> bf16DiffDst;

// A reorder of an fp32 ndhwc tensor into its bf16 copy (null without bf16).
dnnl::reorder toBf16Reorder(bool bf16, const memory::desc& from, const memory::desc& to) {
  return bf16 ? dnnl::reorder(memory(from, eng(), DNNL_MEMORY_NONE), memory(to, eng(), DNNL_MEMORY_NONE)) : dnnl::reorder();
}

// The memory a primitive reads for `data`: `data` itself, or (bf16) its copy in `scratch`, made by `r`.
memory asPrimInput(memory data, const memory::desc& prim, const dnnl::reorder& r, std::vector<uint16_t>& scratch) {
  if (prim.data_type() != dt::bf16) return data;
  const size_t n = prim.get_size() / sizeof(uint16_t);
  if (scratch.size() < n) scratch.resize(n);
  memory half(prim, eng(), scratch.data());
  r.execute(strm(), data, half);
  return half;
}

struct ConvFwd {
  ConvShape s;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsReorder w;
  dnnl::reorder toBf16;
  explicit ConvFwd(const std::vector<int64_t>& p)
      : s(p), pd(s.forwardPd(s.bf16 && !s.training ? prop_kind::forward_inference : prop_kind::forward_training)), prim(pd) {
    w.init(s.userWeiMd(), pd.weights_desc(), false);
    toBf16 = toBf16Reorder(s.bf16, s.srcMd(), s.primSrcMd());
  }
};

struct ConvBwdData {
  ConvShape s;
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightsReorder w;
  dnnl::reorder toBf16;
  explicit ConvBwdData(const std::vector<int64_t>& p) : s(p), pd(make(s)), prim(pd) {
    w.init(s.userWeiMd(), pd.weights_desc(), false);
    toBf16 = toBf16Reorder(s.bf16, s.dstMd(), s.primDiffDstMd());
  }
  static dnnl::convolution_backward_data::primitive_desc make(const ConvShape& s) {
    dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, s.srcMd(), s.anyWeiMd(), s.primDiffDstMd(),
                                            s.strides, s.dil, s.padL, s.padR);
    return dnnl::convolution_backward_data::primitive_desc(d, eng(), s.forwardPd(prop_kind::forward_training));
  }
};

struct ConvBwdWeights {
  ConvShape s;
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  WeightsReorder w;
  dnnl::reorder srcToBf16, diffDstToBf16;
  explicit ConvBwdWeights(const std::vector<int64_t>& p) : s(p), pd(make(s)), prim(pd) {
    w.init(s.userWeiMd(), pd.diff_weights_desc(), true);
    srcToBf16 = toBf16Reorder(s.bf16, s.srcMd(), s.primSrcMd());
    diffDstToBf16 = toBf16Reorder(s.bf16, s.dstMd(), s.primDiffDstMd());
  }
  static dnnl::convolution_backward_weights::primitive_desc make(const ConvShape& s) {
    dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, s.primSrcMd(), s.anyDiffWeiMd(), s.primDiffDstMd(),
                                               s.strides, s.dil, s.padL, s.padR);
    return dnnl::convolution_backward_weights::primitive_desc(d, eng(), s.forwardPd(prop_kind::forward_training));
  }
};

std::unordered_map<std::string, std::unique_ptr<ConvFwd>> fwdCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdData>> bwdDataCache;
std::unordered_map<std::string, std::unique_ptr<ConvBwdWeights>> bwdWeightsCache;

// 24 parameters, or 25 with the precision entry.
std::vector<int64_t> convArgs(const Napi::CallbackInfo& info, const char* what) {
  const bool hasPrecision = info[0].IsArray() && info[0].As<Napi::Array>().Length() == 25;
  auto p = intArgs(info[0], hasPrecision ? 25 : 24, what);
  if (hasPrecision && (p[24] < 0 || p[24] > 2)) throw Napi::RangeError::New(info.Env(), std::string(what) + ": precision entry must be 0, 1 or 2");
  return p;
}

// convForward(params, x NDHWC, w DHWIO, y NDHWC)
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  auto p = convArgs(info, "convForward params");
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
    memory src = asPrimInput(memory(c.s.srcMd(), eng(), x), c.s.primSrcMd(), c.toBf16, bf16Input);
    c.prim.execute(strm(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, memory(c.s.dstMd(), eng(), y)}});
    strm().wait();
  });
}

// convBackwardData(params, dy NDHWC, w DHWIO, dx NDHWC)
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  auto p = convArgs(info, "convBackwardData params");
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
    memory diffDst = asPrimInput(memory(c.s.dstMd(), eng(), dy), c.s.primDiffDstMd(), c.toBf16, bf16DiffDst);
    c.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, diffDst},
                            {DNNL_ARG_WEIGHTS, wm},
                            {DNNL_ARG_DIFF_SRC, memory(c.s.srcMd(), eng(), dx)}});
    strm().wait();
  });
}

// convBackwardWeights(params, x NDHWC, dy NDHWC, dw DHWIO)
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  auto p = convArgs(info, "convBackwardWeights params");
  return guarded(info, "convBackwardWeights", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& c = cached(bwdWeightsCache, p);
    float* x = f32(info[1], c.s.srcSize(), "convBackwardWeights x");
    float* dy = f32(info[2], c.s.dstSize(), "convBackwardWeights dy");
    float* dw = f32(info[3], c.s.weiSize(), "convBackwardWeights dw");
    memory user(c.s.userWeiMd(), eng(), dw);
    memory target = c.w.needed ? c.w.buf : user;
    memory src = asPrimInput(memory(c.s.srcMd(), eng(), x), c.s.primSrcMd(), c.srcToBf16, bf16Input);
    memory diffDst = asPrimInput(memory(c.s.dstMd(), eng(), dy), c.s.primDiffDstMd(), c.diffDstToBf16, bf16DiffDst);
    c.prim.execute(strm(), {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_DIFF_DST, diffDst},
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
  std::vector<uint16_t>().swap(bf16DiffDst);
}

size_t convCacheSize() { return fwdCache.size() + bwdDataCache.size() + bwdWeightsCache.size(); }

void registerConv(Napi::Env env, Napi::Object exports) {
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("convBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
}

}  // namespace nnssl
