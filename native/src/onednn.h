// What the oneDNN primitives of the addon share (conv.cc, matmul.cc): the CPU engine and stream, the lock that
// serializes oneDNN work across Node worker threads, the per-shape primitive caches and the error translation.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace nnssl {

inline dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

inline dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

// ---- primitive cache keys ---------------------------------------------------------------------------------------

inline std::string key(const std::vector<int64_t>& p) {
  std::string k;
  k.reserve(p.size() * 4);
  for (auto x : p) {
    k += std::to_string(x);
    k += ',';
  }
  return k;
}

// Node worker threads load this same shared object and would share the caches, the stream, and the per-primitive
// weight buffers; one lock serializes oneDNN work across threads (each call already uses every core via OpenMP).
inline std::mutex onednnMutex;

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

// Cached primitives of each family, for the addon's clearCache/cacheSize; called with onednnMutex held.
void clearConvCache();
size_t convCacheSize();
void clearMatMulCache();
size_t matMulCacheSize();

}  // namespace nnssl
