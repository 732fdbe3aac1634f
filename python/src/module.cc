// tgk._tgk: the Python bindings (nanobind). Each function takes its tensors as arrays (numpy, or
// any CPU tensor that exports DLPack), takes the kernel's dimensions from their shapes and the
// rest of its parameters as keywords, runs the kernel on a queue of its own with the GIL
// released, and returns new numpy arrays. Every failure is a tgk::Error, which Python sees as
// tgk.Error (a ValueError) with the library's message; the checks made here, on what the
// library cannot see (array dimensions, dtypes it has no name for), say "tgk.<function>".
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tgk/compare.h"
#include "tgk/dtype.h"
#include "tgk/error.h"
#include "tgk/kernels/flash_attn_vec.h"
#include "tgk/kernels/gdn_chunk.h"
#include "tgk/kernels/gdn_recurrent.h"
#include "tgk/kernels/kkt.h"
#include "tgk/kernels/sdpa.h"
#include "tgk/kernels/tq_kv.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace tgk::python {
namespace {

[[noreturn]] void Fail(std::string_view function, const std::string& message) {
  ThrowInvalidArgument("tgk." + std::string(function) + ": " + message);
}

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::string LayoutText(std::initializer_list<const char*> layout) {
  std::string text = "[";
  for (const char* dim : layout) text += (text.size() > 1 ? ", " : "") + std::string(dim);
  return text + "]";
}

// str(object): nb::str converts only from a plain handle (from an object it would take it as
// a str unchecked).
std::string Text(nb::handle object) { return nb::str(object).c_str(); }

// What an object is, for messages: its type, and its dtype where it has one.
std::string Describe(nb::handle object) {
  const nb::handle type = object.type();
  std::string text = Text(type.attr("__qualname__"));
  const std::string module = Text(type.attr("__module__"));
  if (module != "builtins") text = module + "." + text;
  if (nb::hasattr(object, "dtype")) {
    text += " of dtype " + Text(object.attr("dtype"));
  }
  return text;
}

// Readable, C-contiguous CPU arrays. A numpy or torch input that is not C-contiguous is copied
// by nanobind (astype / contiguous) before the kernel sees it.
using InArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// One input tensor: the array (which keeps the memory alive), its tgk dtype and its shape.
struct Input {
  InArray array;
  DType dtype;
  std::vector<uint64_t> shape;
  bool uint16 = false;  // given as uint16 bits of a 16-bit float

  ConstView view() const { return ConstView(array.data(), array.size(), dtype); }
};

std::optional<DType> TgkDType(nb::dlpack::dtype type, std::optional<DType> bits16) {
  if (type.lanes != 1) return std::nullopt;
  switch (static_cast<nb::dlpack::dtype_code>(type.code)) {
    case nb::dlpack::dtype_code::Float:
      if (type.bits == 32) return DType::kF32;
      if (type.bits == 16) return DType::kF16;
      break;
    case nb::dlpack::dtype_code::Bfloat:
      if (type.bits == 16) return DType::kBF16;
      break;
    case nb::dlpack::dtype_code::UInt:
      if (type.bits == 8) return DType::kU8;
      if (type.bits == 16) return bits16;
      if (type.bits == 32) return DType::kU32;
      break;
    case nb::dlpack::dtype_code::Int:
      if (type.bits == 32) return DType::kI32;
      break;
    default:
      break;
  }
  return std::nullopt;
}

// Python objects kept in statics are leaked on purpose: released by a static destructor, they
// would be freed after the interpreter has finalised, at the process's exit (a crash).
nb::handle Numpy() {
  static const nb::handle numpy = nb::module_::import_("numpy").release();
  return numpy;
}

bool IsNumpyBFloat16(nb::handle object) {
  if (!nb::isinstance(object, Numpy().attr("ndarray"))) return false;
  return Text(object.attr("dtype").attr("name")) == "bfloat16";
}

// `bits16` is the 16-bit float type whose bits uint16 elements hold, for an argument that
// takes bf16 or f16 (std::nullopt: uint16 is not accepted). An ml_dtypes.bfloat16 array is
// bf16 whatever the argument takes, so that the library names the mismatch. `expected`
// describes the dtype for messages.
Input Import(std::string_view function, const char* name, nb::handle object,
             std::optional<DType> bits16, std::string_view expected) {
  nb::object source = nb::borrow(object);
  const bool bfloat16 = IsNumpyBFloat16(object);
  if (bfloat16) {
    source = object.attr("view")(Numpy().attr("uint16"));
    bits16 = DType::kBF16;
  }
  InArray array;
  if (object.is_none() || !nb::try_cast(source, array)) {
    if (!object.is_none() && nb::hasattr(object, "__dlpack__")) {
      Fail(function, std::string(name) +
                         " must be a C-contiguous CPU tensor (tgk copies non-contiguous numpy "
                         "arrays and torch tensors, not other DLPack producers) of dtype " +
                         std::string(expected) + ", got " + Describe(object));
    }
    Fail(function, std::string(name) +
                       " must be a numpy array or a CPU tensor that exports DLPack (of dtype " +
                       std::string(expected) + "), got " + Describe(object));
  }
  const std::optional<DType> dtype = TgkDType(array.dtype(), bits16);
  if (!dtype) {
    Fail(function, std::string(name) + " has a dtype tgk has no kernel for: expected " +
                       std::string(expected) + ", got " + Describe(object));
  }
  std::vector<uint64_t> shape(array.ndim());
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = array.shape(i);
  const bool uint16 = !bfloat16 && array.dtype() == nb::dtype<uint16_t>();
  return Input{std::move(array), *dtype, std::move(shape), uint16};
}

constexpr std::string_view kF32 = "float32";
constexpr std::string_view kF16 = "float16, or uint16 holding f16 bits";
constexpr std::string_view kBF16 = "ml_dtypes.bfloat16, or uint16 holding bf16 bits";
constexpr std::string_view kU8 = "uint8";

// The kernel's dimensions, named as the library names them, bound from the arrays' shapes and
// from keyword parameters; every later binding must agree with the first.
class Dims {
 public:
  explicit Dims(std::string_view function) : function_(function) {}

  void Bind(const char* name, const Input& input, std::initializer_list<const char*> layout) {
    if (input.shape.size() != layout.size()) {
      Fail(function_, std::string(name) + " must have " + std::to_string(layout.size()) +
                          " dimensions " + LayoutText(layout) + ", got shape " +
                          ShapeText(input.shape));
    }
    size_t axis = 0;
    for (const char* dim : layout) {
      Set(dim, input.shape[axis++], std::string(name) + " " + LayoutText(layout));
    }
  }

  // `source` names where the value comes from, for the message when another source disagrees.
  void Set(const std::string& dim, uint64_t value, const std::string& source) {
    for (const Entry& entry : entries_) {
      if (entry.dim != dim) continue;
      if (entry.value != value) {
        Fail(function_, dim + " differs: " + std::to_string(entry.value) + " from " + entry.source +
                            ", " + std::to_string(value) + " from " + source);
      }
      return;
    }
    entries_.push_back(Entry{dim, value, source});
  }

  bool Has(const std::string& dim) const {
    for (const Entry& entry : entries_) {
      if (entry.dim == dim) return true;
    }
    return false;
  }

  // The kernels take 32-bit dimensions.
  uint32_t operator[](const std::string& dim) const {
    for (const Entry& entry : entries_) {
      if (entry.dim != dim) continue;
      if (entry.value > std::numeric_limits<uint32_t>::max()) {
        Fail(function_, dim + " = " + std::to_string(entry.value) + " (from " + entry.source +
                            ") exceeds the kernels' 32-bit dimensions");
      }
      return static_cast<uint32_t>(entry.value);
    }
    Fail(function_, "internal: dimension " + dim + " was never bound");
  }

 private:
  struct Entry {
    std::string dim;
    uint64_t value;
    std::string source;
  };
  std::string_view function_;
  std::vector<Entry> entries_;
};

// A new zero-filled numpy array that a kernel writes, owned by Python once returned. Its data is
// cache-line aligned, as the tool's tensors: the sequence dequantisers write a large dst past the
// caches only in 64-byte aligned rows (RowStore::kStream).
inline constexpr std::align_val_t kOutputAlignment{64};
template <class T>
struct Output {
  T* data = nullptr;
  size_t count = 0;
  nb::object array;

  View view() const { return View(data, count, DTypeOf<T>()); }
};

template <class T>
Output<T> NewArray(std::string_view function, const std::vector<uint64_t>& shape) {
  uint64_t bytes = sizeof(T);
  for (uint64_t dim : shape) {
    if (__builtin_mul_overflow(bytes, dim, &bytes)) {
      Fail(function, "the output's byte count " + ShapeText(shape) + " overflows 64 bits");
    }
  }
  const uint64_t count = bytes / sizeof(T);
  Output<T> out;
  out.count = count;
  out.data = static_cast<T*>(::operator new[](bytes, kOutputAlignment));
  std::uninitialized_value_construct_n(out.data, count);
  nb::capsule owner(out.data, [](void* p) noexcept { ::operator delete[](p, kOutputAlignment); });
  const std::vector<size_t> sizes(shape.begin(), shape.end());
  out.array = nb::cast(nb::ndarray<nb::numpy, T>(out.data, sizes.size(), sizes.data(), owner));
  return out;
}

// bf16 results are returned as ml_dtypes.bfloat16 arrays (a view of the same memory).
template <>
Output<bf16> NewArray<bf16>(std::string_view function, const std::vector<uint64_t>& shape) {
  Output<uint16_t> bits = NewArray<uint16_t>(function, shape);
  static const nb::handle bfloat16 =
      nb::object(nb::module_::import_("ml_dtypes").attr("bfloat16")).release();
  return Output<bf16>{reinterpret_cast<bf16*>(bits.data), bits.count,
                      bits.array.attr("view")(bfloat16)};
}

// A copy of `initial` (whose dtype and shape the caller has checked) as a new array.
template <class T>
Output<T> CopyOf(std::string_view function, const Input& initial) {
  Output<T> out = NewArray<T>(function, initial.shape);
  std::copy_n(static_cast<const T*>(initial.array.data()), out.count, out.data);
  return out;
}

QueueOptions Options(int threads, const std::optional<std::string>& target) {
  QueueOptions options;
  options.threads = threads;
  if (target) options.target = ParseTarget(*target);
  return options;
}

// Validates and records through `record(queue)` and runs the queue, without the GIL: the views
// point at memory that the arrays, held by the caller's frame, keep alive.
template <class Record>
void Run(int threads, const std::optional<std::string>& target, Record&& record) {
  const QueueOptions options = Options(threads, target);
  nb::gil_scoped_release release;
  Queue queue(options);
  record(queue);
  queue.commit_and_wait();
}

float DefaultScale(uint32_t head_dim) { return float(1.0 / std::sqrt(double(head_dim))); }

uint32_t NormsPerPos(uint32_t head_dim) { return std::max(1u, head_dim / 256); }

// ---- kkt ---------------------------------------------------------------------------------------

nb::object Kkt(nb::handle k_in, nb::handle beta_in, nb::handle g_in, int threads,
               const std::optional<std::string>& target) {
  constexpr std::string_view fn = "kkt";
  const Input k = Import(fn, "k", k_in, DType::kBF16, kBF16);
  const Input beta = Import(fn, "beta", beta_in, std::nullopt, kF32);
  const Input g = Import(fn, "g", g_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("k", k, {"B", "T", "Hg", "K"});
  d.Bind("beta", beta, {"B", "T", "H"});
  d.Bind("g", g, {"B", "T", "H"});
  const KktShape shape{.B = d["B"], .T = d["T"], .Hg = d["Hg"], .H = d["H"], .K = d["K"]};
  const Output<float> A = NewArray<float>(fn, {shape.B, shape.T, shape.H, kKktChunk});
  Run(threads, target, [&](Queue& queue) {
    GatedDeltaNetKkt(queue, shape, k.view(), beta.view(), g.view(), A.view());
  });
  return A.array;
}

// ---- gated delta net ---------------------------------------------------------------------------

std::pair<nb::object, nb::object> GatedDeltaRuleChunk(
    nb::handle q_in, nb::handle k_in, nb::handle v_in, nb::handle g_in, nb::handle beta_in,
    nb::handle initial_state_in, std::optional<float> scale, bool use_qk_l2norm, int threads,
    const std::optional<std::string>& target) {
  constexpr std::string_view fn = "gated_delta_rule_chunk";
  const Input q = Import(fn, "q", q_in, DType::kBF16, kBF16);
  const Input k = Import(fn, "k", k_in, DType::kBF16, kBF16);
  const Input v = Import(fn, "v", v_in, DType::kBF16, kBF16);
  const Input g = Import(fn, "g", g_in, std::nullopt, kF32);
  const Input beta = Import(fn, "beta", beta_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("q", q, {"B", "T", "Hg", "K"});
  d.Bind("k", k, {"B", "T", "Hg", "K"});
  d.Bind("v", v, {"B", "T", "H", "V"});
  d.Bind("g", g, {"B", "T", "H"});
  d.Bind("beta", beta, {"B", "T", "H"});
  std::optional<Input> h0;
  if (!initial_state_in.is_none()) {
    h0 = Import(fn, "initial_state", initial_state_in, std::nullopt, kF32);
    d.Bind("initial_state", *h0, {"B", "H", "V", "K"});
  }
  const GdnChunkShape shape{
      .B = d["B"], .T = d["T"], .Hg = d["Hg"], .H = d["H"], .K = d["K"], .V = d["V"]};
  const std::vector<uint64_t> state_shape = {shape.B, shape.H, shape.V, shape.K};
  const Output<float> final_state = NewArray<float>(fn, state_shape);
  // Without an initial state the recurrence starts from zeros.
  const Output<float> zeros = h0 ? Output<float>{} : NewArray<float>(fn, state_shape);
  const ConstView state_in = h0 ? h0->view() : ConstView(zeros.view());
  const Output<bf16> o = NewArray<bf16>(fn, {shape.B, shape.T, shape.H, shape.V});
  std::vector<uint8_t> scratch(GdnChunkScratch(shape, use_qk_l2norm).bytes);
  Run(threads, target, [&](Queue& queue) {
    GatedDeltaRuleChunkForward(queue, shape, q.view(), k.view(), v.view(), g.view(), beta.view(),
                               scale.value_or(DefaultScale(shape.K)), state_in, o.view(),
                               final_state.view(),
                               View::Of<uint8_t>(scratch.data(), scratch.size()), use_qk_l2norm);
  });
  return {o.array, final_state.array};
}

std::pair<nb::object, nb::object> GatedDeltaRuleRecurrentArrays(
    nb::handle q_in, nb::handle k_in, nb::handle v_in, nb::handle g_in, nb::handle beta_in,
    nb::handle initial_state_in, std::optional<float> scale, bool decode, int threads,
    const std::optional<std::string>& target) {
  constexpr std::string_view fn = "gated_delta_rule_recurrent";
  const Input q = Import(fn, "q", q_in, std::nullopt, kF32);
  const Input k = Import(fn, "k", k_in, std::nullopt, kF32);
  const Input v = Import(fn, "v", v_in, std::nullopt, kF32);
  const Input g = Import(fn, "g", g_in, std::nullopt, kF32);
  const Input beta = Import(fn, "beta", beta_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("q", q, {"Sn", "T", "Hk", "Dk"});
  d.Bind("k", k, {"Sn", "T", "Hk", "Dk"});
  d.Bind("v", v, {"Sn", "T", "Hv", "Dv"});
  d.Bind("g", g, {"Sn", "T", "Hv"});
  d.Bind("beta", beta, {"Sn", "T", "Hv"});
  std::optional<Input> h0;
  if (!initial_state_in.is_none()) {
    h0 = Import(fn, "initial_state", initial_state_in, std::nullopt, kF32);
    d.Bind("initial_state", *h0, {"Sn", "Hv", "Dv", "Dk"});
  }
  const GdnRecurrentShape shape{
      .Sn = d["Sn"], .T = d["T"], .Hk = d["Hk"], .Hv = d["Hv"], .Dk = d["Dk"], .Dv = d["Dv"]};
  const std::vector<uint64_t> state_shape = {shape.Sn, shape.Hv, shape.Dv, shape.Dk};
  const Output<float> final_state = NewArray<float>(fn, state_shape);
  const Output<float> zeros = h0 ? Output<float>{} : NewArray<float>(fn, state_shape);
  const ConstView state_in = h0 ? h0->view() : ConstView(zeros.view());
  const Output<float> o = NewArray<float>(fn, {shape.Sn, shape.T, shape.Hv, shape.Dv});
  Run(threads, target, [&](Queue& queue) {
    GatedDeltaRuleRecurrent(queue, shape, q.view(), k.view(), v.view(), g.view(), beta.view(),
                            scale.value_or(DefaultScale(shape.Dk)), state_in, o.view(),
                            final_state.view(),
                            decode ? GdnRecurrentKernel::kDecode : GdnRecurrentKernel::kSerial);
  });
  return {o.array, final_state.array};
}

// ---- sdpa --------------------------------------------------------------------------------------

nb::object Sdpa(nb::handle q_in, nb::handle k_in, nb::handle v_in,
                std::optional<uint32_t> kv_seq_len, std::optional<float> scale, int threads,
                const std::optional<std::string>& target) {
  constexpr std::string_view fn = "sdpa";
  constexpr std::string_view expected = "float32 or bf16 (ml_dtypes.bfloat16 or uint16 bits)";
  const Input q = Import(fn, "q", q_in, DType::kBF16, expected);
  const Input k = Import(fn, "k", k_in, DType::kBF16, expected);
  const Input v = Import(fn, "v", v_in, DType::kBF16, expected);
  Dims d(fn);
  d.Bind("q", q, {"batch", "n_heads", "seq_len", "head_dim"});
  d.Bind("k", k, {"batch", "n_kv_heads", "kv_capacity", "head_dim"});
  d.Bind("v", v, {"batch", "n_kv_heads", "kv_capacity", "head_dim"});
  SdpaParams p;
  p.batch = d["batch"];
  p.n_heads = d["n_heads"];
  p.n_kv_heads = d["n_kv_heads"];
  p.head_dim = d["head_dim"];
  p.seq_len = d["seq_len"];
  p.kv_capacity = d["kv_capacity"];
  p.kv_seq_len = kv_seq_len.value_or(p.kv_capacity);
  p.scale = scale.value_or(DefaultScale(p.head_dim));
  const auto run = [&](const View& out) {
    Run(threads, target,
        [&](Queue& queue) { tgk::Sdpa(queue, p, q.view(), k.view(), v.view(), out); });
  };
  // The output has Q's dtype; any other Q dtype is the library's error to report.
  if (q.dtype == DType::kBF16) {
    const Output<bf16> out = NewArray<bf16>(fn, q.shape);
    run(out.view());
    return out.array;
  }
  const Output<float> out = NewArray<float>(fn, q.shape);
  run(out.view());
  return out.array;
}

// ---- flash_attn_vec ----------------------------------------------------------------------------

nb::object FlashAttnVec(nb::handle q_in, nb::handle k_in, nb::handle v_in,
                        std::optional<uint32_t> kv_seq_len, std::optional<float> scale,
                        uint32_t mask_type, uint32_t sliding_window, uint32_t ring_start, int nwg,
                        int threads, const std::optional<std::string>& target) {
  constexpr std::string_view fn = "flash_attn_vec";
  if (nwg != 1 && nwg != static_cast<int>(kFlashAttnVecNwg)) {
    Fail(fn, "nwg must be 1 or 32, got " + std::to_string(nwg));
  }
  const Input q = Import(fn, "q", q_in, std::nullopt, kF32);
  const Input k = Import(fn, "k", k_in, DType::kF16, kF16);
  const Input v = Import(fn, "v", v_in, DType::kF16, kF16);
  Dims d(fn);
  d.Bind("q", q, {"num_heads", "head_dim"});
  d.Bind("k", k, {"num_kv_heads", "kv_capacity", "head_dim"});
  d.Bind("v", v, {"num_kv_heads", "kv_capacity", "head_dim"});
  FlashAttnVecParams p;
  p.num_heads = d["num_heads"];
  p.num_kv_heads = d["num_kv_heads"];
  p.head_dim = d["head_dim"];
  p.kv_capacity = d["kv_capacity"];
  p.kv_seq_len = kv_seq_len.value_or(p.kv_capacity);
  p.scale = scale.value_or(DefaultScale(p.head_dim));
  p.mask_type = mask_type;
  p.sliding_window = sliding_window;
  p.ring_start = ring_start;
  const Output<float> out = NewArray<float>(fn, q.shape);
  if (nwg == 1) {
    Run(threads, target,
        [&](Queue& queue) { FlashAttnVecF16(queue, p, q.view(), k.view(), v.view(), out.view()); });
  } else {
    const Output<float> tmp =
        NewArray<float>(fn, {FlashAttnVecNwg32TmpBytes(p.num_heads, p.head_dim) / sizeof(float)});
    Run(threads, target, [&](Queue& queue) {
      FlashAttnVecF16Nwg32(queue, p, q.view(), k.view(), v.view(), tmp.view(), out.view());
    });
  }
  return out.array;
}

// ---- TurboQuant encoders -----------------------------------------------------------------------

// The cache an encoder writes: new arrays, copies of `packed` and `norms` when given (the cache
// before the call), else zeros of cache_capacity rows. `row` is head_dim/2 for the 4-bit
// layout, head_dim for the 5/6/8-bit one.
struct Cache {
  Output<uint8_t> packed;
  Output<float> norms;
};

Cache NewCache(std::string_view fn, Dims& d, std::optional<uint32_t> cache_capacity,
               nb::handle packed_in, nb::handle norms_in, bool nibbles) {
  if (cache_capacity) d.Set("cache_capacity", *cache_capacity, "the cache_capacity argument");
  if (packed_in.is_none() != norms_in.is_none()) {
    Fail(fn, "give both packed and norms (the cache to update) or neither");
  }
  const uint32_t head_dim = d["head_dim"];
  const char* row = nibbles ? "head_dim/2" : "head_dim";
  d.Set(row, nibbles ? head_dim / 2 : head_dim, "src's head_dim");
  d.Set("norms_per_pos", NormsPerPos(head_dim), "head_dim (max(1, head_dim/256))");
  if (packed_in.is_none()) {
    if (!cache_capacity) Fail(fn, "give cache_capacity, or the cache as packed and norms");
    const uint64_t nkv = d["num_kv_heads"], cap = *cache_capacity;
    return Cache{NewArray<uint8_t>(fn, {nkv, cap, d[row]}),
                 NewArray<float>(fn, {nkv, cap, d["norms_per_pos"]})};
  }
  const Input packed = Import(fn, "packed", packed_in, std::nullopt, kU8);
  const Input norms = Import(fn, "norms", norms_in, std::nullopt, kF32);
  d.Bind("packed", packed, {"num_kv_heads", "cache_capacity", row});
  d.Bind("norms", norms, {"num_kv_heads", "cache_capacity", "norms_per_pos"});
  if (packed.dtype != DType::kU8) {
    Fail(fn, "packed must be uint8, got " + std::string(Name(packed.dtype)));
  }
  if (norms.dtype != DType::kF32) {
    Fail(fn, "norms must be float32, got " + std::string(Name(norms.dtype)));
  }
  return Cache{CopyOf<uint8_t>(fn, packed), CopyOf<float>(fn, norms)};
}

// A sequence encoder's source, src f32 [tokens, num_kv_heads, head_dim], the cache it writes
// (NewCache) and the kernel's dimensions; n_tokens defaults to src's tokens after
// src_tok_offset.
struct SequenceSource {
  Input src;
  Cache cache;
  uint32_t num_kv_heads, head_dim, cache_capacity, n_tokens;
};

SequenceSource ImportSequence(std::string_view fn, nb::handle src_in,
                              std::optional<uint32_t> cache_capacity,
                              std::optional<uint32_t> n_tokens, uint32_t src_tok_offset,
                              nb::handle packed_in, nb::handle norms_in, bool nibbles) {
  Input src = Import(fn, "src", src_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("src", src, {"tokens", "num_kv_heads", "head_dim"});
  const uint32_t tokens = d["tokens"];
  if (src_tok_offset > tokens) {
    Fail(fn, "src_tok_offset (" + std::to_string(src_tok_offset) + ") exceeds src's " +
                 std::to_string(tokens) + " tokens");
  }
  Cache cache = NewCache(fn, d, cache_capacity, packed_in, norms_in, nibbles);
  return SequenceSource{.src = std::move(src),
                        .cache = std::move(cache),
                        .num_kv_heads = d["num_kv_heads"],
                        .head_dim = d["head_dim"],
                        .cache_capacity = d["cache_capacity"],
                        .n_tokens = n_tokens.value_or(tokens - src_tok_offset)};
}

std::pair<nb::object, nb::object> HadamardQuantize(nb::handle src_in,
                                                   std::optional<uint32_t> cache_capacity,
                                                   uint32_t write_pos, bool is_sliding,
                                                   float scale_factor_d512, nb::handle packed_in,
                                                   nb::handle norms_in, int threads,
                                                   const std::optional<std::string>& target) {
  constexpr std::string_view fn = "hadamard_quantize_kv";
  const Input src = Import(fn, "src", src_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("src", src, {"num_kv_heads", "head_dim"});
  const Cache cache = NewCache(fn, d, cache_capacity, packed_in, norms_in, /*nibbles=*/true);
  const HadamardQuantizeKvParams p{.num_kv_heads = d["num_kv_heads"],
                                   .head_dim = d["head_dim"],
                                   .cache_capacity = d["cache_capacity"],
                                   .write_pos = write_pos,
                                   .is_sliding = is_sliding,
                                   .scale_factor_d512 = scale_factor_d512};
  Run(threads, target, [&](Queue& queue) {
    HadamardQuantizeKv(queue, p, src.view(), cache.packed.view(), cache.norms.view());
  });
  return {cache.packed.array, cache.norms.array};
}

std::pair<nb::object, nb::object> HadamardQuantizeSeq(
    nb::handle src_in, std::optional<uint32_t> cache_capacity, uint32_t write_pos_start,
    std::optional<uint32_t> n_tokens, uint32_t src_tok_offset, bool is_sliding,
    float scale_factor_d512, nb::handle packed_in, nb::handle norms_in, int threads,
    const std::optional<std::string>& target) {
  const SequenceSource s =
      ImportSequence("hadamard_quantize_kv_seq", src_in, cache_capacity, n_tokens, src_tok_offset,
                     packed_in, norms_in, /*nibbles=*/true);
  const HadamardQuantizeKvSeqParams p{.num_kv_heads = s.num_kv_heads,
                                      .head_dim = s.head_dim,
                                      .cache_capacity = s.cache_capacity,
                                      .write_pos_start = write_pos_start,
                                      .n_tokens = s.n_tokens,
                                      .src_tok_offset = src_tok_offset,
                                      .is_sliding = is_sliding,
                                      .scale_factor_d512 = scale_factor_d512};
  Run(threads, target, [&](Queue& queue) {
    HadamardQuantizeKvSeq(queue, p, s.src.view(), s.cache.packed.view(), s.cache.norms.view());
  });
  return {s.cache.packed.array, s.cache.norms.array};
}

std::pair<nb::object, nb::object> HadamardQuantizeHb(nb::handle src_in, uint32_t codebook_bits,
                                                     std::optional<uint32_t> cache_capacity,
                                                     uint32_t write_pos, bool is_sliding,
                                                     float scale_factor_d512, nb::handle packed_in,
                                                     nb::handle norms_in, int threads,
                                                     const std::optional<std::string>& target) {
  constexpr std::string_view fn = "hadamard_quantize_kv_hb";
  const Input src = Import(fn, "src", src_in, std::nullopt, kF32);
  Dims d(fn);
  d.Bind("src", src, {"num_kv_heads", "head_dim"});
  const Cache cache = NewCache(fn, d, cache_capacity, packed_in, norms_in, /*nibbles=*/false);
  const HadamardQuantizeKvHbParams p{.num_kv_heads = d["num_kv_heads"],
                                     .head_dim = d["head_dim"],
                                     .cache_capacity = d["cache_capacity"],
                                     .write_pos = write_pos,
                                     .is_sliding = is_sliding,
                                     .scale_factor_d512 = scale_factor_d512,
                                     .codebook_bits = codebook_bits};
  Run(threads, target, [&](Queue& queue) {
    HadamardQuantizeKvHb(queue, p, src.view(), cache.packed.view(), cache.norms.view());
  });
  return {cache.packed.array, cache.norms.array};
}

std::pair<nb::object, nb::object> HadamardQuantizeHbSeq(
    nb::handle src_in, uint32_t codebook_bits, std::optional<uint32_t> cache_capacity,
    uint32_t write_pos_start, std::optional<uint32_t> n_tokens, uint32_t src_tok_offset,
    bool is_sliding, float scale_factor_d512, nb::handle packed_in, nb::handle norms_in,
    int threads, const std::optional<std::string>& target) {
  const SequenceSource s =
      ImportSequence("hadamard_quantize_kv_hb_seq", src_in, cache_capacity, n_tokens,
                     src_tok_offset, packed_in, norms_in, /*nibbles=*/false);
  const HadamardQuantizeKvHbSeqParams p{.num_kv_heads = s.num_kv_heads,
                                        .head_dim = s.head_dim,
                                        .cache_capacity = s.cache_capacity,
                                        .write_pos_start = write_pos_start,
                                        .n_tokens = s.n_tokens,
                                        .src_tok_offset = src_tok_offset,
                                        .is_sliding = is_sliding,
                                        .scale_factor_d512 = scale_factor_d512,
                                        .codebook_bits = codebook_bits};
  Run(threads, target, [&](Queue& queue) {
    HadamardQuantizeKvHbSeq(queue, p, s.src.view(), s.cache.packed.view(), s.cache.norms.view());
  });
  return {s.cache.packed.array, s.cache.norms.array};
}

// ---- TurboQuant dequantisers -------------------------------------------------------------------

// packed u8 [num_kv_heads, cache_capacity, head_dim/2 or head_dim] and norms f32
// [num_kv_heads, cache_capacity, max(1, head_dim/256)]; binds those dims.
std::pair<Input, Input> ImportCache(std::string_view fn, Dims& d, nb::handle packed_in,
                                    nb::handle norms_in, bool nibbles) {
  Input packed = Import(fn, "packed", packed_in, std::nullopt, kU8);
  Input norms = Import(fn, "norms", norms_in, std::nullopt, kF32);
  const char* row = nibbles ? "head_dim/2" : "head_dim";
  d.Bind("packed", packed, {"num_kv_heads", "cache_capacity", row});
  const uint32_t head_dim = nibbles ? 2 * d[row] : d[row];
  if (nibbles) d.Set("head_dim", head_dim, "packed [num_kv_heads, cache_capacity, head_dim/2]");
  d.Set("norms_per_pos", NormsPerPos(head_dim), "head_dim (max(1, head_dim/256))");
  d.Bind("norms", norms, {"num_kv_heads", "cache_capacity", "norms_per_pos"});
  return {std::move(packed), std::move(norms)};
}

nb::object TqDequantize(nb::handle packed_in, nb::handle norms_in, uint32_t read_pos,
                        float scale_factor_d512, int threads,
                        const std::optional<std::string>& target) {
  constexpr std::string_view fn = "tq_dequantize_kv";
  Dims d(fn);
  const auto cache = ImportCache(fn, d, packed_in, norms_in, /*nibbles=*/true);
  const Input& packed = cache.first;
  const Input& norms = cache.second;
  const TqDequantizeKvParams p{.num_kv_heads = d["num_kv_heads"],
                               .head_dim = d["head_dim"],
                               .cache_capacity = d["cache_capacity"],
                               .read_pos = read_pos,
                               .scale_factor_d512 = scale_factor_d512};
  const Output<float> dst = NewArray<float>(fn, {p.num_kv_heads, p.head_dim});
  Run(threads, target,
      [&](Queue& queue) { TqDequantizeKv(queue, p, packed.view(), norms.view(), dst.view()); });
  return dst.array;
}

nb::object TqDequantizeHb(nb::handle packed_in, nb::handle norms_in, uint32_t read_pos,
                          uint32_t codebook_bits, float scale_factor_d512, int threads,
                          const std::optional<std::string>& target) {
  constexpr std::string_view fn = "tq_dequantize_hb_kv";
  Dims d(fn);
  const auto cache = ImportCache(fn, d, packed_in, norms_in, /*nibbles=*/false);
  const Input& packed = cache.first;
  const Input& norms = cache.second;
  const TqDequantizeHbKvParams p{.num_kv_heads = d["num_kv_heads"],
                                 .head_dim = d["head_dim"],
                                 .cache_capacity = d["cache_capacity"],
                                 .read_pos = read_pos,
                                 .scale_factor_d512 = scale_factor_d512,
                                 .codebook_bits = codebook_bits};
  const Output<float> dst = NewArray<float>(fn, {p.num_kv_heads, p.head_dim});
  Run(threads, target,
      [&](Queue& queue) { TqDequantizeHbKv(queue, p, packed.view(), norms.view(), dst.view()); });
  return dst.array;
}

// A sequence dequantiser's cache (ImportCache), its dimensions and its output, a new dst f32
// [num_kv_heads, n_tokens, head_dim]; n_tokens defaults to the rows from start_pos on.
struct SequenceCache {
  Input packed, norms;
  uint32_t num_kv_heads, head_dim, cache_capacity, n_tokens;
  Output<float> dst;
};

SequenceCache ImportSequenceCache(std::string_view fn, nb::handle packed_in, nb::handle norms_in,
                                  uint32_t start_pos, std::optional<uint32_t> n_tokens,
                                  bool nibbles) {
  Dims d(fn);
  auto [packed, norms] = ImportCache(fn, d, packed_in, norms_in, nibbles);
  const uint32_t cap = d["cache_capacity"];
  if (!n_tokens && start_pos > cap) {
    Fail(fn, "start_pos (" + std::to_string(start_pos) + ") exceeds cache_capacity (" +
                 std::to_string(cap) + "), and n_tokens defaults to the rows from start_pos on");
  }
  const uint32_t nkv = d["num_kv_heads"], head_dim = d["head_dim"];
  const uint32_t tokens = n_tokens.value_or(cap - start_pos);
  return SequenceCache{.packed = std::move(packed),
                       .norms = std::move(norms),
                       .num_kv_heads = nkv,
                       .head_dim = head_dim,
                       .cache_capacity = cap,
                       .n_tokens = tokens,
                       .dst = NewArray<float>(fn, {nkv, tokens, head_dim})};
}

nb::object TqDequantizeSeq(nb::handle packed_in, nb::handle norms_in, uint32_t start_pos,
                           std::optional<uint32_t> n_tokens, float scale_factor_d512, int threads,
                           const std::optional<std::string>& target) {
  const SequenceCache s = ImportSequenceCache("tq_dequantize_kv_seq", packed_in, norms_in,
                                              start_pos, n_tokens, /*nibbles=*/true);
  const TqDequantizeKvSeqParams p{.num_kv_heads = s.num_kv_heads,
                                  .head_dim = s.head_dim,
                                  .cache_capacity = s.cache_capacity,
                                  .start_pos = start_pos,
                                  .n_tokens = s.n_tokens,
                                  .scale_factor_d512 = scale_factor_d512};
  Run(threads, target, [&](Queue& queue) {
    TqDequantizeKvSeq(queue, p, s.packed.view(), s.norms.view(), s.dst.view());
  });
  return s.dst.array;
}

nb::object TqDequantizeHbSeq(nb::handle packed_in, nb::handle norms_in, uint32_t start_pos,
                             std::optional<uint32_t> n_tokens, uint32_t codebook_bits,
                             float scale_factor_d512, int threads,
                             const std::optional<std::string>& target) {
  const SequenceCache s = ImportSequenceCache("tq_dequantize_hb_kv_seq", packed_in, norms_in,
                                              start_pos, n_tokens, /*nibbles=*/false);
  const TqDequantizeHbKvSeqParams p{.num_kv_heads = s.num_kv_heads,
                                    .head_dim = s.head_dim,
                                    .cache_capacity = s.cache_capacity,
                                    .start_pos = start_pos,
                                    .n_tokens = s.n_tokens,
                                    .scale_factor_d512 = scale_factor_d512,
                                    .codebook_bits = codebook_bits};
  Run(threads, target, [&](Queue& queue) {
    TqDequantizeHbKvSeq(queue, p, s.packed.view(), s.norms.view(), s.dst.view());
  });
  return s.dst.array;
}

nb::object TqInverseRotateArray(nb::handle rotated_in, int threads,
                                const std::optional<std::string>& target) {
  constexpr std::string_view fn = "tq_inverse_rotate";
  const Input rotated = Import(fn, "rotated", rotated_in, std::nullopt, kF32);
  if (rotated.shape.empty()) {
    Fail(fn, "rotated must have at least 1 dimension [..., head_dim], got a scalar");
  }
  uint64_t rows = 1;
  for (size_t i = 0; i + 1 < rotated.shape.size(); ++i) rows *= rotated.shape[i];
  Dims d(fn);
  d.Set("rows", rows, "rotated's leading dimensions");
  d.Set("head_dim", rotated.shape.back(), "rotated [..., head_dim]");
  const TqInverseRotateParams p{.rows = d["rows"], .head_dim = d["head_dim"]};
  const Output<float> out = NewArray<float>(fn, rotated.shape);
  Run(threads, target,
      [&](Queue& queue) { TqInverseRotate(queue, p, rotated.view(), out.view()); });
  return out.array;
}

// ---- compare -----------------------------------------------------------------------------------

Comparison CompareArrays(nb::handle a_in, nb::handle ref_in, double atol, double rtol,
                         uint64_t max_ulp) {
  constexpr std::string_view fn = "compare";
  constexpr std::string_view expected =
      "float32, float16, ml_dtypes.bfloat16, uint8, uint32 or int32";
  // uint16 bits are read as the other argument's 16-bit float type.
  Input a = Import(fn, "a", a_in, DType::kBF16, expected);
  Input ref = Import(fn, "ref", ref_in, DType::kBF16, expected);
  if (a.uint16 && ref.uint16) {
    Fail(fn,
         "a and ref are both uint16: pass one of them as ml_dtypes.bfloat16 or "
         "numpy.float16 to say which 16-bit float their bits are");
  }
  if (a.uint16 && ref.dtype == DType::kF16) a.dtype = DType::kF16;
  if (ref.uint16 && a.dtype == DType::kF16) ref.dtype = DType::kF16;
  if (a.shape != ref.shape) {
    Fail(fn, "a has shape " + ShapeText(a.shape) + " but ref has shape " + ShapeText(ref.shape));
  }
  const Tolerance tolerance{.atol = atol, .rtol = rtol, .max_ulp = max_ulp};
  nb::gil_scoped_release release;
  return Compare(a.view(), ref.view(), tolerance);
}

std::vector<std::string> TargetNames() {
  std::vector<std::string> names;
  for (Target target : AvailableTargets()) names.push_back(target.name());
  return names;
}

}  // namespace
}  // namespace tgk::python

NB_MODULE(_tgk, m) {
  using namespace tgk::python;
  m.doc() = "tgk's kernels on numpy arrays (see the tgk package for the documented interface)";
  nb::exception<tgk::Error>(m, "Error", PyExc_ValueError);

  const auto run_args = [] { return std::make_tuple("threads"_a = 0, "target"_a = nb::none()); };
  (void)run_args;

  nb::class_<tgk::Comparison>(m, "Comparison")
      .def_ro("count", &tgk::Comparison::count)
      .def_ro("differing", &tgk::Comparison::differing)
      .def_ro("max_abs", &tgk::Comparison::max_abs)
      .def_ro("max_abs_index", &tgk::Comparison::max_abs_index)
      .def_ro("max_rel", &tgk::Comparison::max_rel)
      .def_ro("max_rel_index", &tgk::Comparison::max_rel_index)
      .def_ro("max_ulp", &tgk::Comparison::max_ulp)
      .def_ro("max_ulp_index", &tgk::Comparison::max_ulp_index)
      .def_ro("nan_mismatches", &tgk::Comparison::nan_mismatches)
      .def_ro("inf_mismatches", &tgk::Comparison::inf_mismatches)
      .def_ro("passed", &tgk::Comparison::passed)
      .def("summary", &tgk::Comparison::Summary)
      .def("__str__", &tgk::Comparison::Summary)
      .def("__repr__",
           [](const tgk::Comparison& c) { return "<tgk.Comparison " + c.Summary() + ">"; });
  m.def("compare", &CompareArrays, "a"_a.none(), "ref"_a.none(), nb::kw_only(), "atol"_a = 0.0,
        "rtol"_a = 0.0, "max_ulp"_a = 0);

  m.def("targets", &TargetNames);
  m.def("best_target", [] { return tgk::BestTarget().name(); });

  m.def("kkt", &Kkt, "k"_a.none(), "beta"_a.none(), "g"_a.none(), nb::kw_only(), "threads"_a = 0,
        "target"_a = nb::none());
  m.def("gated_delta_rule_chunk", &GatedDeltaRuleChunk, "q"_a.none(), "k"_a.none(), "v"_a.none(),
        "g"_a.none(), "beta"_a.none(), nb::kw_only(), "initial_state"_a = nb::none(),
        "scale"_a = nb::none(), "use_qk_l2norm"_a = false, "threads"_a = 0,
        "target"_a = nb::none());
  m.def("gated_delta_rule_recurrent", &GatedDeltaRuleRecurrentArrays, "q"_a.none(), "k"_a.none(),
        "v"_a.none(), "g"_a.none(), "beta"_a.none(), nb::kw_only(), "initial_state"_a = nb::none(),
        "scale"_a = nb::none(), "decode"_a = false, "threads"_a = 0, "target"_a = nb::none());
  m.def("sdpa", &Sdpa, "q"_a.none(), "k"_a.none(), "v"_a.none(), nb::kw_only(),
        "kv_seq_len"_a = nb::none(), "scale"_a = nb::none(), "threads"_a = 0,
        "target"_a = nb::none());
  m.def("flash_attn_vec", &FlashAttnVec, "q"_a.none(), "k"_a.none(), "v"_a.none(), nb::kw_only(),
        "kv_seq_len"_a = nb::none(), "scale"_a = nb::none(), "mask_type"_a = 0,
        "sliding_window"_a = 0, "ring_start"_a = 0, "nwg"_a = 1, "threads"_a = 0,
        "target"_a = nb::none());
  m.def("hadamard_quantize_kv", &HadamardQuantize, "src"_a.none(), nb::kw_only(),
        "cache_capacity"_a = nb::none(), "write_pos"_a = 0, "is_sliding"_a = false,
        "scale_factor_d512"_a = 1.0f, "packed"_a = nb::none(), "norms"_a = nb::none(),
        "threads"_a = 0, "target"_a = nb::none());
  m.def("hadamard_quantize_kv_seq", &HadamardQuantizeSeq, "src"_a.none(), nb::kw_only(),
        "cache_capacity"_a = nb::none(), "write_pos_start"_a = 0, "n_tokens"_a = nb::none(),
        "src_tok_offset"_a = 0, "is_sliding"_a = false, "scale_factor_d512"_a = 1.0f,
        "packed"_a = nb::none(), "norms"_a = nb::none(), "threads"_a = 0, "target"_a = nb::none());
  m.def("hadamard_quantize_kv_hb", &HadamardQuantizeHb, "src"_a.none(), nb::kw_only(),
        "codebook_bits"_a = 8, "cache_capacity"_a = nb::none(), "write_pos"_a = 0,
        "is_sliding"_a = false, "scale_factor_d512"_a = 1.0f, "packed"_a = nb::none(),
        "norms"_a = nb::none(), "threads"_a = 0, "target"_a = nb::none());
  m.def("hadamard_quantize_kv_hb_seq", &HadamardQuantizeHbSeq, "src"_a.none(), nb::kw_only(),
        "codebook_bits"_a = 8, "cache_capacity"_a = nb::none(), "write_pos_start"_a = 0,
        "n_tokens"_a = nb::none(), "src_tok_offset"_a = 0, "is_sliding"_a = false,
        "scale_factor_d512"_a = 1.0f, "packed"_a = nb::none(), "norms"_a = nb::none(),
        "threads"_a = 0, "target"_a = nb::none());
  m.def("tq_dequantize_kv", &TqDequantize, "packed"_a.none(), "norms"_a.none(), nb::kw_only(),
        "read_pos"_a, "scale_factor_d512"_a = 1.0f, "threads"_a = 0, "target"_a = nb::none());
  m.def("tq_dequantize_kv_seq", &TqDequantizeSeq, "packed"_a.none(), "norms"_a.none(),
        nb::kw_only(), "start_pos"_a = 0, "n_tokens"_a = nb::none(), "scale_factor_d512"_a = 1.0f,
        "threads"_a = 0, "target"_a = nb::none());
  m.def("tq_dequantize_hb_kv", &TqDequantizeHb, "packed"_a.none(), "norms"_a.none(), nb::kw_only(),
        "read_pos"_a, "codebook_bits"_a = 8, "scale_factor_d512"_a = 1.0f, "threads"_a = 0,
        "target"_a = nb::none());
  m.def("tq_dequantize_hb_kv_seq", &TqDequantizeHbSeq, "packed"_a.none(), "norms"_a.none(),
        nb::kw_only(), "start_pos"_a = 0, "n_tokens"_a = nb::none(), "codebook_bits"_a = 8,
        "scale_factor_d512"_a = 1.0f, "threads"_a = 0, "target"_a = nb::none());
  m.def("tq_inverse_rotate", &TqInverseRotateArray, "rotated"_a.none(), nb::kw_only(),
        "threads"_a = 0, "target"_a = nb::none());
  m.def("tq_rotation_scale", &tgk::TqRotationScale, "head_dim"_a);
}
