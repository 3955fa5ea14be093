// aezoo's convolutions on the CPU through oneDNN, called from jitted JAX code by the XLA FFI.
//
// Three handlers, one per oneDNN convolution primitive: forward, backward-data and
// backward-weights, all for NHWC activations and HWIO kernels (JAX's layouts) with any
// strides and explicit padding. A transposed convolution is the backward-data primitive of
// the convolution it transposes (see aezoo/nn/_onednn.py). oneDNN chooses the kernel's
// internal layout ("any"); the kernel is reordered into it (and its gradient out of it) on
// each call, a small tensor. Primitives are built once per shape and kept in a cache.
//
// Built by aezoo/nn/_onednn.py into the user cache: g++ -O2 -shared -fPIC against
// jax.ffi.include_dir() and oneDNN 3.x (the onednn-cpu-gomp / onednn-devel-cpu-gomp wheels).

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::algorithm;
using dnnl::convolution_backward_data;
using dnnl::convolution_backward_weights;
using dnnl::convolution_forward;
using dnnl::engine;
using dnnl::memory;
using dnnl::prop_kind;
using dnnl::reorder;
using dnnl::stream;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

engine& cpu_engine() {
  static engine eng(engine::kind::cpu, 0);
  return eng;
}

stream& cpu_stream() {
  thread_local stream s(cpu_engine());
  return s;
}

// The geometry of one convolution, in the forward convolution's terms: src [N, H, W, C]
// -> dst [N, OH, OW, O] with kernel [KH, KW, C, O].
struct Geometry {
  int64_t n, h, w, c, oh, ow, o, kh, kw, sy, sx, pt, pl, pb, pr;

  std::string key(const char* what) const {
    std::string k(what);
    for (int64_t v : {n, h, w, c, oh, ow, o, kh, kw, sy, sx, pt, pl, pb, pr}) {
      k += ':' + std::to_string(v);
    }
    return k;
  }
  memory::desc src() const { return {{n, c, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, o, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc weights(tag t) const { return {{o, c, kh, kw}, dt::f32, t}; }
  memory::dims strides() const { return {sy, sx}; }
  memory::dims pad_l() const { return {pt, pl}; }
  memory::dims pad_r() const { return {pb, pr}; }

  convolution_forward::primitive_desc forward() const {
    return convolution_forward::primitive_desc(
        cpu_engine(), prop_kind::forward_training, algorithm::convolution_direct, src(),
        weights(tag::any), dst(), strides(), pad_l(), pad_r());
  }
};

// A primitive and the kernel layout it wants, built once per geometry.
struct Entry {
  dnnl::primitive prim;
  memory::desc weights;  // the layout the primitive reads or writes the kernel in
  size_t weights_bytes = 0;
};

std::mutex cache_mutex;
// One primitive at a time: each runs on every OpenMP thread, and XLA may call two handlers at
// once from its own threads (independent convolutions of a step): two OpenMP teams on the
// same cores spin against each other (per-step ResNet training did not finish 3 epochs of
// 640 examples in 5 minutes that way; serialized it ran at 155 examples/s).
std::mutex run_mutex;
std::unordered_map<std::string, std::shared_ptr<Entry>>& cache() {
  static std::unordered_map<std::string, std::shared_ptr<Entry>> entries;
  return entries;
}

template <typename Build>
std::shared_ptr<Entry> cached(const std::string& key, Build build) {
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto found = cache().find(key);
    if (found != cache().end()) return found->second;
  }
  auto entry = std::make_shared<Entry>(build());
  std::lock_guard<std::mutex> lock(cache_mutex);
  return cache().emplace(key, entry).first->second;
}

// The kernel in the primitive's layout: the user's HWIO bytes, or a reorder of them.
memory kernel_in(const Geometry& g, const Entry& e, float* hwio, std::unique_ptr<char[]>& keep) {
  memory user(g.weights(tag::hwio), cpu_engine(), hwio);
  if (e.weights == user.get_desc()) return user;
  keep.reset(new char[e.weights_bytes]);
  memory inner(e.weights, cpu_engine(), keep.get());
  reorder(user, inner).execute(cpu_stream(), user, inner);
  return inner;
}

Geometry geometry(ffi::Span<const int64_t> src, ffi::Span<const int64_t> dst,
                  ffi::Span<const int64_t> kernel, int64_t sy, int64_t sx, int64_t pt,
                  int64_t pl, int64_t pb, int64_t pr) {
  return Geometry{src[0],    src[1],    src[2], src[3], dst[1], dst[2], dst[3], kernel[0],
                  kernel[1], sy,        sx,     pt,     pl,     pb,     pr};
}

ffi::Error check(const Geometry& g) {
  if (g.kh <= 0 || g.kw <= 0 || g.sy <= 0 || g.sx <= 0) {
    return ffi::Error(ffi::ErrorCode::kInvalidArgument, "aezoo onednn: bad kernel or strides");
  }
  return ffi::Error::Success();
}

template <typename F>
ffi::Error guarded(F body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN: ") + e.what());
  } catch (const std::exception& e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("aezoo onednn: ") + e.what());
  }
}

ffi::Error ConvForward(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> kernel,
                       ffi::ResultBuffer<ffi::F32> y, int64_t sy, int64_t sx, int64_t pt,
                       int64_t pl, int64_t pb, int64_t pr) {
  return guarded([&]() -> ffi::Error {
    Geometry g = geometry(x.dimensions(), y->dimensions(), kernel.dimensions(), sy, sx, pt, pl,
                          pb, pr);
    if (auto err = check(g); err.failure()) return err;
    auto entry = cached(g.key("fwd"), [&] {
      auto pd = g.forward();
      return Entry{convolution_forward(pd), pd.weights_desc(), pd.weights_desc().get_size()};
    });
    std::lock_guard<std::mutex> running(run_mutex);
    std::unique_ptr<char[]> keep;
    memory k = kernel_in(g, *entry, kernel.typed_data(), keep);
    memory src(g.src(), cpu_engine(), x.typed_data());
    memory dst(g.dst(), cpu_engine(), y->typed_data());
    entry->prim.execute(cpu_stream(),
                        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, k}, {DNNL_ARG_DST, dst}});
    cpu_stream().wait();
    return ffi::Error::Success();
  });
}

// dx = the gradient of the forward convolution with respect to its input, given dy.
ffi::Error ConvBackwardData(ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> kernel,
                            ffi::ResultBuffer<ffi::F32> dx, int64_t sy, int64_t sx, int64_t pt,
                            int64_t pl, int64_t pb, int64_t pr) {
  return guarded([&]() -> ffi::Error {
    Geometry g = geometry(dx->dimensions(), dy.dimensions(), kernel.dimensions(), sy, sx, pt, pl,
                          pb, pr);
    if (auto err = check(g); err.failure()) return err;
    auto entry = cached(g.key("bwd_data"), [&] {
      auto hint = g.forward();
      auto pd = convolution_backward_data::primitive_desc(
          cpu_engine(), algorithm::convolution_direct, g.src(), g.weights(tag::any), g.dst(),
          g.strides(), g.pad_l(), g.pad_r(), hint);
      return Entry{convolution_backward_data(pd), pd.weights_desc(),
                   pd.weights_desc().get_size()};
    });
    std::lock_guard<std::mutex> running(run_mutex);
    std::unique_ptr<char[]> keep;
    memory k = kernel_in(g, *entry, kernel.typed_data(), keep);
    memory diff_dst(g.dst(), cpu_engine(), dy.typed_data());
    memory diff_src(g.src(), cpu_engine(), dx->typed_data());
    entry->prim.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, diff_dst},
                                       {DNNL_ARG_WEIGHTS, k},
                                       {DNNL_ARG_DIFF_SRC, diff_src}});
    cpu_stream().wait();
    return ffi::Error::Success();
  });
}

// dk = the gradient of the forward convolution with respect to its kernel (HWIO).
ffi::Error ConvBackwardWeights(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                               ffi::ResultBuffer<ffi::F32> dk, int64_t sy, int64_t sx,
                               int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  return guarded([&]() -> ffi::Error {
    Geometry g = geometry(x.dimensions(), dy.dimensions(), dk->dimensions(), sy, sx, pt, pl,
                          pb, pr);
    if (auto err = check(g); err.failure()) return err;
    auto entry = cached(g.key("bwd_weights"), [&] {
      auto hint = g.forward();
      auto pd = convolution_backward_weights::primitive_desc(
          cpu_engine(), algorithm::convolution_direct, g.src(), g.weights(tag::any), g.dst(),
          g.strides(), g.pad_l(), g.pad_r(), hint);
      return Entry{convolution_backward_weights(pd), pd.diff_weights_desc(),
                   pd.diff_weights_desc().get_size()};
    });
    memory user(g.weights(tag::hwio), cpu_engine(), dk->typed_data());
    std::unique_ptr<char[]> keep;
    memory inner = user;
    if (entry->weights != user.get_desc()) {
      keep.reset(new char[entry->weights_bytes]);
      inner = memory(entry->weights, cpu_engine(), keep.get());
    }
    memory src(g.src(), cpu_engine(), x.typed_data());
    memory diff_dst(g.dst(), cpu_engine(), dy.typed_data());
    std::lock_guard<std::mutex> running(run_mutex);
    entry->prim.execute(cpu_stream(), {{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_DIFF_DST, diff_dst},
                                       {DNNL_ARG_DIFF_WEIGHTS, inner}});
    if (keep) reorder(inner, user).execute(cpu_stream(), inner, user);
    cpu_stream().wait();
    return ffi::Error::Success();
  });
}

}  // namespace

#define AEZOO_CONV_ATTRS                                                                     \
  .Attr<int64_t>("sy").Attr<int64_t>("sx").Attr<int64_t>("pt").Attr<int64_t>("pl").Attr<int64_t>( \
      "pb").Attr<int64_t>("pr")

XLA_FFI_DEFINE_HANDLER_SYMBOL(AezooConvForward, ConvForward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() AEZOO_CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(AezooConvBackwardData, ConvBackwardData,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() AEZOO_CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(AezooConvBackwardWeights, ConvBackwardWeights,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() AEZOO_CONV_ATTRS);

extern "C" const char* AezooOnednnVersion() {
  static std::string text = [] {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
  }();
  return text.c_str();
}
