// Batched matmul of the `cpu-onednn` backend (sdk/backend/onednn-kernels.ts) in oneDNN, on the caller's buffers.

#include <algorithm>

#include "args.h"
#include "onednn.h"

namespace nnssl {
namespace {

using dnnl::memory;
using dt = dnnl::memory::data_type;

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
    std::lock_guard<std::mutex> lock(onednnMutex);
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

}  // namespace

void clearMatMulCache() { matmulCache.clear(); }

size_t matMulCacheSize() { return matmulCache.size(); }

void registerMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, MatMulFn));
}

}  // namespace nnssl
