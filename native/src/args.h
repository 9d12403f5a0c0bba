// Argument checks shared by the addon's source files. Every pointer handed to native code goes through f32/u8 with
// an exact length, so a JS-side bug cannot make C++ read or write outside a JS buffer.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nnssl {

inline std::vector<int64_t> intArgs(const Napi::Value& v, size_t expected, const char* what) {
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

// The data pointer of a Float32Array holding exactly `n` elements.
inline float* f32(const Napi::Value& v, int64_t n, const char* what) {
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

inline int64_t int64Arg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a number");
  int64_t n = v.As<Napi::Number>().Int64Value();
  if (n < 0) throw Napi::RangeError::New(v.Env(), std::string(what) + ": must not be negative");
  return n;
}

// Registered by each source file into the addon's exports.
void registerConv(Napi::Env env, Napi::Object exports);
void registerMatMul(Napi::Env env, Napi::Object exports);
void registerBinary(Napi::Env env, Napi::Object exports);
void registerReduce(Napi::Env env, Napi::Object exports);
void registerInstanceNorm(Napi::Env env, Napi::Object exports);
void registerUnary(Napi::Env env, Napi::Object exports);
void registerConcat(Napi::Env env, Napi::Object exports);

}  // namespace nnssl
