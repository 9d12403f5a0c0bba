// Batched matmul of the `cpu-onednn` backend (sdk/backend/onednn-kernels.ts) in oneDNN, on the caller's buffers.

#include <algorithm>

#include "args.h"
#include "onednn.h"

namespace nnssl {
namespace {

using dnnl::memory;
using dt = dnnl::memory::data_type;

// ---- matmul -----------------------------------------------------------------------------------------------------
// Parameters: batchA, batchB, M, K, N, transposeA, transposeB, and an optional 8th: 1 for bf16 operands (A and B
// rounded to bf16 copies in addon-owned buffers, fp32 accumulation, C fp32; see conv.cc). A is [batchA, M, K] (stored
// [batchA, K, M] when transposed), B is [batchB, K, N] (stored [batchB, N, K] when transposed), C is
// [max(batchA, batchB), M, N]; a batch of 1 broadcasts. Transposes are expressed as strides, so nothing is copied.

// The bf16 copies of A and B, shared by every bf16 matmul (one runs at a time, under onednnMutex).
std::vector<uint16_t> bf16A, bf16B;

struct MatMul {
  bool bf16;
  memory::desc a, b, c, a16, b16;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::reorder toA16, toB16;
  int64_t aSize, bSize, cSize;
  explicit MatMul(const std::vector<int64_t>& p)
      : bf16(p.size() > 7 && p[7] == 1),
        a(mdA(p, dt::f32)),
        b(mdB(p, dt::f32)),
        c(mdC(p)),
        a16(mdA(p, dt::bf16)),
        b16(mdB(p, dt::bf16)),
        pd(dnnl::matmul::desc(bf16 ? a16 : a, bf16 ? b16 : b, c), eng()),
        prim(pd) {
    aSize = p[0] * p[2] * p[3];
    bSize = p[1] * p[3] * p[4];
    cSize = std::max(p[0], p[1]) * p[2] * p[4];
    if (bf16) {
      toA16 = dnnl::reorder(memory(a, eng(), DNNL_MEMORY_NONE), memory(a16, eng(), DNNL_MEMORY_NONE));
      toB16 = dnnl::reorder(memory(b, eng(), DNNL_MEMORY_NONE), memory(b16, eng(), DNNL_MEMORY_NONE));
    }
  }
  static memory::desc mdA(const std::vector<int64_t>& p, dt type) {
    int64_t M = p[2], K = p[3];
    return memory::desc({p[0], M, K}, type, p[5] ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
  }
  static memory::desc mdB(const std::vector<int64_t>& p, dt type) {
    int64_t K = p[3], N = p[4];
    return memory::desc({p[1], K, N}, type, p[6] ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
  }
  static memory::desc mdC(const std::vector<int64_t>& p) {
    int64_t M = p[2], N = p[4];
    return memory::desc({std::max(p[0], p[1]), M, N}, dt::f32, memory::dims{M * N, N, 1});
  }
};

std::unordered_map<std::string, std::unique_ptr<MatMul>> matmulCache;

// matmul(params, a, b, c)
Napi::Value MatMulFn(const Napi::CallbackInfo& info) {
  const bool hasPrecision = info[0].IsArray() && info[0].As<Napi::Array>().Length() == 8;
  auto p = intArgs(info[0], hasPrecision ? 8 : 7, "matmul params");
  return guarded(info, "matmul", [&] {
    std::lock_guard<std::mutex> lock(onednnMutex);
    auto& m = cached(matmulCache, p);
    float* a = f32(info[1], m.aSize, "matmul a");
    float* b = f32(info[2], m.bSize, "matmul b");
    float* c = f32(info[3], m.cSize, "matmul c");
    memory am(m.a, eng(), a), bm(m.b, eng(), b);
    if (m.bf16) {
      bf16A.resize(std::max(bf16A.size(), m.a16.get_size() / sizeof(uint16_t)));
      bf16B.resize(std::max(bf16B.size(), m.b16.get_size() / sizeof(uint16_t)));
      memory a16(m.a16, eng(), bf16A.data()), b16(m.b16, eng(), bf16B.data());
      m.toA16.execute(strm(), am, a16);
      m.toB16.execute(strm(), bm, b16);
      am = a16;
      bm = b16;
    }
    m.prim.execute(strm(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, memory(m.c, eng(), c)}});
    strm().wait();
  });
}

}  // namespace

void clearMatMulCache() {
  matmulCache.clear();
  std::vector<uint16_t>().swap(bf16A);
  std::vector<uint16_t>().swap(bf16B);
}

size_t matMulCacheSize() { return matmulCache.size(); }

void registerMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, MatMulFn));
}

}  // namespace nnssl
