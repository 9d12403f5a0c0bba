// nnssl_onednn: the few oneDNN primitives and OpenMP loops the tfjs `cpu-onednn` backend needs
// (sdk/backend/onednn-kernels.ts, native-elementwise.ts, native-norm.ts). One source file per op family:
// conv.cc, matmul.cc (oneDNN primitives, sharing onednn.h), binary.cc, unary.cc, reduce.cc, concat.cc,
// instance-norm.cc (OpenMP loops). This file holds the module's entry point and its housekeeping: version,
// the allocator setting and the primitive cache.

#include <napi.h>

#include <algorithm>
#include <mutex>

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "onednn.h"

namespace {

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

// keepLargeBlocks(trimThreshold): makes glibc serve every allocation from its heap instead of a fresh mmap per large
// block, and keep up to trimThreshold bytes of freed heap instead of returning it to the kernel. A training step frees
// and re-allocates hundreds of same-sized tensor buffers, many above glibc's 32 MB mmap ceiling (2 x 64^3 x 16 floats
// is 33.5 MB); as fresh mappings every page of each is faulted in and zeroed by the kernel (measured: 16 ms per
// 33 MB buffer vs 8 ms reused). Returns false where the C library is not glibc.
Napi::Value KeepLargeBlocks(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const double trim = info[0].As<Napi::Number>().DoubleValue();
  const int keep = static_cast<int>(std::min(trim, 2147483647.0));
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, keep) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// detach(arrayBuffer): frees a tensor buffer now instead of when V8 next collects it. Detaching drops the
// ArrayBuffer's backing store, which Node's allocator then frees at once; every view of it becomes zero-length.
// sdk/backend/onednn-memory.ts calls it only for buffers the backend allocated and never handed out.
Napi::Value Detach(const Napi::CallbackInfo& info) {
  if (!info[0].IsArrayBuffer()) throw Napi::TypeError::New(info.Env(), "detach: expected an ArrayBuffer");
  auto ab = info[0].As<Napi::ArrayBuffer>();
  bool detachable = false;
  if (napi_is_detached_arraybuffer(info.Env(), ab, &detachable) != napi_ok || detachable) {
    return Napi::Boolean::New(info.Env(), false);
  }
  ab.Detach();
  return Napi::Boolean::New(info.Env(), true);
}

// mapFile(path): the file's bytes as an ArrayBuffer backed by a private (copy-on-write) mapping of it, prefaulted from
// the page cache (MAP_POPULATE), unmapped when V8 collects the buffer. A 400 MB checkpoint is then loaded without
// copying its tensors (sdk/io/torch/load.ts reads through this when the addon is loaded). Writes to the tensors stay
// private to the process; the file must not be truncated while it is mapped (reads past its new end would fault).
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "mapFile: expected a path");
  const std::string path = info[0].As<Napi::String>();
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, std::string("mapFile: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw Napi::Error::New(env, "mapFile: not a regular file");
  }
  const size_t n = static_cast<size_t>(st.st_size);
  if (n == 0) {
    close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  // Populated read-only, so the pages are the page cache's own (a writable MAP_POPULATE would copy every page now),
  // then made writable: a later write copies just the page it touches.
  void* p = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  const int mapErr = errno;
  close(fd);
  if (p == MAP_FAILED) throw Napi::Error::New(env, std::string("mapFile: ") + std::strerror(mapErr));
  if (mprotect(p, n, PROT_READ | PROT_WRITE) != 0) {
    const int protErr = errno;
    munmap(p, n);
    throw Napi::Error::New(env, std::string("mapFile: ") + std::strerror(protErr));
  }
  return Napi::ArrayBuffer::New(env, p, n, [](Napi::Env, void* data, size_t* len) {
    munmap(data, *len);
    delete len;
  }, new size_t(n));
}

// Drops every cached primitive (and the weight buffers they own), e.g. after a run with many distinct shapes.
Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(nnssl::onednnMutex);
  nnssl::clearConvCache();
  nnssl::clearMatMulCache();
  return info.Env().Undefined();
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(nnssl::onednnMutex);
  return Napi::Number::New(info.Env(), static_cast<double>(nnssl::convCacheSize() + nnssl::matMulCacheSize()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nnssl::registerConv(env, exports);
  nnssl::registerMatMul(env, exports);
  nnssl::registerBinary(env, exports);
  nnssl::registerUnary(env, exports);
  nnssl::registerReduce(env, exports);
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  exports.Set("cacheSize", Napi::Function::New(env, CacheSize));
  exports.Set("keepLargeBlocks", Napi::Function::New(env, KeepLargeBlocks));
  exports.Set("detach", Napi::Function::New(env, Detach));
  exports.Set("mapFile", Napi::Function::New(env, MapFile));
  nnssl::registerInstanceNorm(env, exports);
  nnssl::registerConcat(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nnssl_onednn, Init)
