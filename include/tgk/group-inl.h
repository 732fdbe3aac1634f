// The threadgroup programming model, per Highway target (docs/design.md section 1).
//
// A kernel is a functor with `template <class Group> void operator()(Group& g) const`. The
// group gives its position in the grid, its threadgroup arenas and per-lane state, and runs
// the kernel's lane bodies:
//
//   g.for_each_lane([&](auto lane) HWY_ATTR { ... });   // every lane executes the body
//   g.barrier();                                         // ends a phase
//
// A phase is the code between barriers. Lanes of one group run one phase to completion before
// the next starts, so a lane sees every arena write any lane made in an earlier phase; within
// a phase, a lane must not read arena bytes another lane writes (a GPU would race; the checked
// scalar mode reports it). Lane-body locals end with the body; values that cross a barrier
// live in g.lane_state<T, N>() (N values per lane, zeroed) or, when every value is written
// before it is read, g.uninitialized_lane_state<T, N>() (no clearing).
//
// Two instantiations run the same functor:
//   ScalarGroup: `lane` is a ScalarLane, one lane at a time, varying values are plain float /
//                uint32_t / int32_t / bool. This is the oracle.
//   SimdGroup:   `lane` is a LanePack of LanePack::kWidth consecutive lanes (Highway vectors;
//                the last pack of a group may be partial: count() < kWidth, and loads and
//                stores touch only its active lanes). A pack starts at a multiple of kWidth,
//                a power of two <= 16, so it never straddles a simdgroup or any aligned block
//                of kWidth or more lanes: a value that is uniform over such a block (like
//                lane_id / 64) can be computed from lane.first().
// Lane bodies are generic lambdas and need HWY_ATTR (Highway's per-target attribute). A
// SimdGroup calls a body with a full pack's type (no tail path in its loads and stores) for
// every pack of kWidth lanes and with the general type only for a partial last pack.
//
// Simdgroup collectives act on lane state between lane bodies and follow the canonical order
// of docs/spec/README.md: simd_sum, simd_max, simd_shuffle_xor, simd_broadcast over each simdgroup
// of 32 lanes, the multi-value simd_sum_rows (32 sums in one call, the sum of row i
// delivered to lane i) and simd_hadamard (the Walsh–Hadamard butterfly across the lanes, on
// several rows in one call). Their scalar definitions are in detail/collectives.h; lane packs run
// collectives-inl.h's vector versions, with the same bits.
//
// Data operations of a lane beside load/store/gather: load_deinterleaved (a lane's group of N
// consecutive f32 values, or four f16 values, e.g. its N-element chunk of a row, as N varying
// values: register transposes, even/odd splits on AVX-512; f16 two 16-bit permutes and F16C)
// and its inverse store_interleaved (f32, and bytes packed four to a word), f16 loads through
// F16C on x86 (AVX2 and up), transpose (kWidth × kWidth blocks), store_stream and
// store_interleaved_stream (a store of f32 values, and one of interleaved bytes, that bypasses
// the caches where it can, for outputs no group reads again soon); rows-inl.h adds the
// row/column moves StageColumns, StoreColumns and WidenRow.
// tests/group_ops_test.cc and convert_test.cc hold each to its scalar definition on every compiled
// target.
//
// Per-target header: include it inside a foreach_target pass (see kernels/kkt/kkt.cc).

#if defined(TGK_GROUP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_GROUP_INL_H_
#undef TGK_GROUP_INL_H_
#else
#define TGK_GROUP_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tgk/collectives-inl.h"
#include "tgk/convert-inl.h"
#include "tgk/convert.h"
#include "tgk/detail/collectives.h"
#include "tgk/detail/launch.h"
#include "tgk/detail/race_check.h"
#include "tgk/detail/scratch.h"
#include "tgk/dtype.h"
#include "tgk/geometry.h"
#include "tgk/math-inl.h"
#include "tgk/ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// ===========================================================================================
// Scalar lanes: the oracle
// ===========================================================================================

// An element of a threadgroup arena as the scalar lanes see it: every read and write goes
// through the race checker when one is active.
template <class T>
class ArenaRef {
 public:
  ArenaRef(T* p, tgk::detail::RaceChecker* checker, uint32_t arena, size_t offset)
      : p_(p), checker_(checker), arena_(arena), offset_(offset) {}
  operator T() const {  // NOLINT(google-explicit-constructor)
    if (checker_ && !checker_->OnRead(arena_, offset_, sizeof(T))) return T{};
    return *p_;
  }
  ArenaRef& operator=(T value) {
    if (!checker_ || checker_->OnWrite(arena_, offset_, sizeof(T))) *p_ = value;
    return *this;
  }
  ArenaRef& operator=(const ArenaRef& other) { return *this = T(other); }
  ArenaRef& operator+=(T value) { return *this = T(*this) + value; }

 private:
  T* p_;
  tgk::detail::RaceChecker* checker_;
  uint32_t arena_;
  size_t offset_;
};

template <class T>
class ScalarArenaView {
 public:
  ScalarArenaView(T* data, size_t size, uint32_t arena, tgk::detail::RaceChecker* checker)
      : data_(data), size_(size), arena_(arena), checker_(checker) {}
  size_t size() const { return size_; }
  ArenaRef<T> operator[](size_t i) const {
    return ArenaRef<T>(data_ + i, checker_, arena_, i * sizeof(T));
  }

 private:
  T* data_;
  size_t size_;
  uint32_t arena_;
  tgk::detail::RaceChecker* checker_;
};

// Per-lane state: N values of T per lane, laid out [n][lane] with the lane count padded to a
// multiple of 16 so that a pack's values are one contiguous, full vector.
template <class T, uint32_t N>
class LaneState {
 public:
  static constexpr uint32_t kPerLane = N;
  LaneState(T* data, uint32_t stride) : data_(data), stride_(stride) {}
  T* row(uint32_t n) const { return data_ + size_t{n} * stride_; }
  uint32_t stride() const { return stride_; }

 private:
  T* data_;
  uint32_t stride_;
};

inline constexpr uint32_t kLaneStatePadding = 16;

class ScalarLane {
 public:
  using VF = float;
  using VU = uint32_t;
  using VI = int32_t;
  using MF = bool;
  static constexpr uint32_t kWidth = 1;

  explicit ScalarLane(uint32_t id) : id_(id) {}
  uint32_t first() const { return id_; }
  uint32_t count() const { return 1; }
  uint32_t id() const { return id_; }
  bool active() const { return true; }

  float splat(float x) const { return x; }
  uint32_t splat(uint32_t x) const { return x; }
  int32_t splat(int32_t x) const { return x; }
  float zero() const { return 0.0f; }
  bool any(bool m) const { return m; }
  bool all(bool m) const { return m; }

  // Lane k of a pack reads p[k]; the scalar lane reads *p.
  float load(const float* p) const { return *p; }
  uint32_t load(const uint32_t* p) const { return *p; }
  int32_t load(const int32_t* p) const { return *p; }
  uint32_t load(const uint8_t* p) const { return *p; }
  float load(const bf16* p) const { return F32FromBF16(*p); }
  float load(const f16* p) const { return F32FromF16(*p); }
  template <class T>
  auto load(const ScalarArenaView<T>& view, size_t i) const {
    return load_value(T(view[i]));
  }

  void store(float* p, float v) const { *p = v; }
  void store(uint32_t* p, uint32_t v) const { *p = v; }
  void store(int32_t* p, int32_t v) const { *p = v; }
  void store(uint8_t* p, uint32_t v) const { *p = uint8_t(v); }
  void store(bf16* p, float v) const { *p = BF16FromF32(v); }
  void store(f16* p, float v) const { *p = F16FromF32(v); }
  // A store of an output that no group reads again soon (LanePack's may bypass the caches).
  void store_stream(float* p, float v) const { *p = v; }
  template <class T, class V>
  void store(const ScalarArenaView<T>& view, size_t i, V v) const {
    T value;
    store(&value, v);
    view[i] = value;
  }
  template <class T, class V>
  void store_if(bool m, T* p, V v) const {
    if (m) store(p, v);
  }

  // Groups of N interleaved values (a lane's N-element chunk, as float4/half4 on a GPU): lane
  // k of a pack reads p[N·k + i] into e[i], widened exactly; the scalar lane reads p[i]. N is
  // a power of two; f16 groups have N = 4.
  template <size_t N>
  void load_deinterleaved(const float* p, float (&e)[N]) const {
    for (uint32_t i = 0; i < N; ++i) e[i] = p[i];
  }
  void load_deinterleaved(const f16* p, float (&e)[4]) const {
    for (uint32_t i = 0; i < 4; ++i) e[i] = F32FromF16(p[i]);
  }
  // The same for N = 4, the spelling of the callers that predate load_deinterleaved.
  template <class T>
  void load_deinterleaved4(const T* p, float (&e)[4]) const {
    load_deinterleaved(p, e);
  }
  // The inverse: lane k of a pack writes v[i] to p[N·k + i]; the scalar lane writes p[i]. N is
  // a power of two; bytes (values below 256) come in groups of N >= 4.
  template <size_t N>
  void store_interleaved(float* p, const float (&v)[N]) const {
    for (uint32_t i = 0; i < N; ++i) p[i] = v[i];
  }
  template <size_t N>
  void store_interleaved(uint8_t* p, const uint32_t (&v)[N]) const {
    for (uint32_t i = 0; i < N; ++i) p[i] = uint8_t(v[i]);
  }
  // store_interleaved of bytes for an output no group reads again soon: the same bytes.
  template <size_t N>
  void store_interleaved_stream(uint8_t* p, const uint32_t (&v)[N]) const {
    store_interleaved(p, v);
  }

  float gather(const float* base, uint32_t index) const { return base[index]; }
  uint32_t gather(const uint32_t* base, uint32_t index) const { return base[index]; }
  // Transposes the kWidth × kWidth block held in rows[0..kWidth): for one lane, nothing to do.
  void transpose(float*) const {}

  template <class T>
  auto gather(const ScalarArenaView<T>& view, uint32_t index) const {
    return load_value(T(view[index]));
  }
  // Lane k of a pack reads p[k·stride] if k < valid, else 0 (a column of a row-major tile).
  template <class T>
  auto load_strided(const T* p, size_t /*stride*/, uint32_t valid) const {
    return valid > 0 ? load(p) : load_value(T{});
  }

  template <class T, uint32_t N>
  auto load(const LaneState<T, N>& state, uint32_t n) const {
    return state.row(n)[id_];
  }
  template <class T, uint32_t N>
  void store(const LaneState<T, N>& state, uint32_t n, T v) const {
    state.row(n)[id_] = v;
  }

 private:
  static float load_value(float v) { return v; }
  static uint32_t load_value(uint32_t v) { return v; }
  static int32_t load_value(int32_t v) { return v; }
  static uint32_t load_value(uint8_t v) { return v; }
  static float load_value(bf16 v) { return F32FromBF16(v); }
  static float load_value(f16 v) { return F32FromF16(v); }

  uint32_t id_;
};

// ===========================================================================================
// Highway lane packs
// ===========================================================================================

template <class T>
class SimdArenaView {
 public:
  SimdArenaView(T* data, size_t size) : data_(data), size_(size) {}
  size_t size() const { return size_; }
  T& operator[](size_t i) const { return data_[i]; }
  T* data() const { return data_; }

 private:
  T* data_;
  size_t size_;
};

// kFull: the pack is known to hold kWidth lanes (every pack of a group but the last, and the
// last too when kWidth divides the group size), so loads and stores carry no tail path.
template <class DF, bool kFull = false>
class LanePack {
 public:
  using DU = hn::RebindToUnsigned<DF>;
  using DI = hn::RebindToSigned<DF>;
  using VF = hn::Vec<DF>;
  using VU = hn::Vec<DU>;
  using VI = hn::Vec<DI>;
  using MF = hn::Mask<DF>;
  static constexpr uint32_t kWidth = uint32_t(hn::MaxLanes(DF()));
  // The general type: any count of lanes.
  using MaybePartial = LanePack<DF, false>;

  LanePack(uint32_t first, uint32_t count) : first_(first), count_(count) {}
  // A full pack is also a pack of the general type.
  template <bool kOther, hwy::EnableIf<!kFull && kOther>* = nullptr>
  LanePack(const LanePack<DF, kOther>& full)  // NOLINT(google-explicit-constructor)
      : first_(full.first()), count_(kWidth) {}
  uint32_t first() const { return first_; }
  uint32_t count() const { return kFull ? kWidth : count_; }
  // Iota from 0 folds to a constant; Highway's Iota from a run-time value fills an array lane
  // by lane and loads it (a store-forwarding stall on every call).
  VU id() const { return hn::Add(hn::Iota(DU(), 0u), hn::Set(DU(), first_)); }
  MF active() const { return hn::FirstN(DF(), count_); }

  VF splat(float x) const { return hn::Set(DF(), x); }
  VU splat(uint32_t x) const { return hn::Set(DU(), x); }
  VI splat(int32_t x) const { return hn::Set(DI(), x); }
  VF zero() const { return hn::Zero(DF()); }
  // Whether the mask holds for any / all active lanes.
  template <class M>
  bool any(M m) const {
    return !hn::AllFalse(DF(), hn::And(hn::RebindMask(DF(), m), active()));
  }
  template <class M>
  bool all(M m) const {
    return hn::AllTrue(DF(), hn::Or(hn::RebindMask(DF(), m), hn::Not(active())));
  }

  VF load(const float* p) const { return LoadTail(DF(), p); }
  VU load(const uint32_t* p) const { return LoadTail(DU(), p); }
  VI load(const int32_t* p) const { return LoadTail(DI(), p); }
  VU load(const uint8_t* p) const {
    return hn::PromoteTo(DU(), LoadTail(hn::Rebind<uint8_t, DF>(), p));
  }
  VF load(const bf16* p) const { return WidenBF16(Load16(p)); }
  VF load(const f16* p) const {
    return LoadActive(p, [](const f16* q) HWY_ATTR { return LoadF16(q); });
  }
  // Arenas are padded, so a full vector read at any element is in bounds.
  template <class T>
  auto load(const SimdArenaView<T>& view, size_t i) const {
    if constexpr (std::is_same_v<T, float>) {
      return hn::LoadU(DF(), view.data() + i);
    } else {
      return load(static_cast<const T*>(view.data() + i));
    }
  }

  void store(float* p, VF v) const { StoreTail(DF(), v, p); }
  void store(uint32_t* p, VU v) const { StoreTail(DU(), v, p); }
  void store(int32_t* p, VI v) const { StoreTail(DI(), v, p); }
  // Values must be below 256.
  void store(uint8_t* p, VU v) const {
    const hn::Rebind<uint8_t, DF> d8;
    StoreTail(d8, hn::DemoteTo(d8, hn::BitCast(DI(), v)), p);
  }
  void store(bf16* p, VF v) const { Store16(NarrowBF16(v), p); }
  void store(f16* p, VF v) const { Store16(NarrowF16(v), p); }
  template <class T, class V>
  void store(const SimdArenaView<T>& view, size_t i, V v) const {
    store(view.data() + i, v);
  }
  // store, for an output that no group reads again soon: a full pack at an address aligned to
  // its vector bypasses the caches (x86: a non-temporal store); any other pack stores. Rows
  // that lie 4 KiB apart fall in few cache sets: stored through the caches, each line is first
  // fetched for ownership and then evicts lines the kernel reads (kkt's A on an Intel Xeon).
  // RunGroups makes these stores visible before its batch of groups ends.
  void store_stream(float* p, VF v) const {
    if ((kFull || count_ == kWidth) &&
        reinterpret_cast<uintptr_t>(p) % (kWidth * sizeof(float)) == 0) {
      return hn::Stream(v, DF(), p);
    }
    store(p, v);
  }
  template <class T, class V>
  void store_if(MF m, T* p, V v) const {
    HWY_ALIGN T current[kWidth];
    HWY_ALIGN T updated[kWidth];
    std::memcpy(current, p, count_ * sizeof(T));
    const LanePack<DF, true> whole(first_, kWidth);
    whole.store(updated, v);
    HWY_ALIGN int32_t keep[kWidth];
    hn::Store(hn::VecFromMask(DI(), hn::RebindMask(DI(), m)), DI(), keep);
    for (uint32_t k = 0; k < count_; ++k) {
      if (keep[k]) current[k] = updated[k];
    }
    std::memcpy(p, current, count_ * sizeof(T));
  }

  // Transposes the kWidth × kWidth block whose rows are rows[0..kWidth): afterwards rows[c]
  // holds column c. Pure data movement (4×4 transposes inside 128-bit blocks, then moves of
  // whole blocks), so every target gives the same values.
#if HWY_TARGET == HWY_SCALAR
  void transpose(VF*) const {}  // one lane: nothing to move (SCALAR lacks the block ops)
#else
  template <class V>  // V = VF; a template so that only the branch for kWidth is instantiated
  void transpose(V* rows) const {
    const DF d;
    const hn::Repartition<uint64_t, DF> d64;
    for (uint32_t g = 0; g < kWidth; g += 4) {
      V* r = rows + g;
      const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, r[0], r[1]));
      const auto t1 = hn::BitCast(d64, hn::InterleaveUpper(d, r[0], r[1]));
      const auto t2 = hn::BitCast(d64, hn::InterleaveLower(d, r[2], r[3]));
      const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, r[2], r[3]));
      r[0] = hn::BitCast(d, hn::InterleaveLower(d64, t0, t2));
      r[1] = hn::BitCast(d, hn::InterleaveUpper(d64, t0, t2));
      r[2] = hn::BitCast(d, hn::InterleaveLower(d64, t1, t3));
      r[3] = hn::BitCast(d, hn::InterleaveUpper(d64, t1, t3));
    }
    // Now block b of rows[g + k] holds rows g..g+3 of column 4b + k.
    if constexpr (kWidth == 8) {
      for (uint32_t k = 0; k < 4; ++k) {
        const V lower = hn::ConcatLowerLower(d, rows[4 + k], rows[k]);
        rows[4 + k] = hn::ConcatUpperUpper(d, rows[4 + k], rows[k]);
        rows[k] = lower;
      }
    } else if constexpr (kWidth == 16) {
      HWY_ALIGN static constexpr int32_t kSwapMiddleBlocks[16] = {0, 1, 2, 3, 8,  9,  10, 11,
                                                                  4, 5, 6, 7, 12, 13, 14, 15};
      const auto swap = hn::SetTableIndices(d, kSwapMiddleBlocks);
      for (uint32_t k = 0; k < 4; ++k) {
        const V u0 = rows[k], u1 = rows[4 + k], u2 = rows[8 + k], u3 = rows[12 + k];
        const V l01 = hn::TableLookupLanes(hn::ConcatLowerLower(d, u1, u0), swap);
        const V u01 = hn::TableLookupLanes(hn::ConcatUpperUpper(d, u1, u0), swap);
        const V l23 = hn::TableLookupLanes(hn::ConcatLowerLower(d, u3, u2), swap);
        const V u23 = hn::TableLookupLanes(hn::ConcatUpperUpper(d, u3, u2), swap);
        rows[k] = hn::ConcatLowerLower(d, l23, l01);
        rows[4 + k] = hn::ConcatUpperUpper(d, l23, l01);
        rows[8 + k] = hn::ConcatLowerLower(d, u23, u01);
        rows[12 + k] = hn::ConcatUpperUpper(d, u23, u01);
      }
    }
  }
#endif

  // Lane k reads p[N·k + i] into e[i] (see ScalarLane); a partial pack reads N·count() values.
  template <class T, size_t N>
  void load_deinterleaved(const T* p, VF (&e)[N]) const {
    static_assert(std::is_same_v<T, float> || N == 4, "f16 comes in groups of four");
    if (kFull || HWY_LIKELY(count_ == kWidth)) return Deinterleave(p, e);
    HWY_ALIGN T groups[N * kWidth];
    CopyActive<N>(p, groups);
    Deinterleave(static_cast<const T*>(groups), e);
  }
  template <class T>
  void load_deinterleaved4(const T* p, VF (&e)[4]) const {
    load_deinterleaved(p, e);
  }

  // Lane k writes v[i] to p[N·k + i] (see ScalarLane); a partial pack writes N·count() values.
  template <size_t N>
  void store_interleaved(float* p, const VF (&v)[N]) const {
    static_assert(N >= 1 && (N & (N - 1)) == 0, "N is a power of two");
    VF rows[N];
    for (size_t i = 0; i < N; ++i) rows[i] = v[i];
#if HWY_TARGET != HWY_SCALAR
    if constexpr (N == kWidth && kWidth <= 8) {
      transpose(rows);
    } else {
      VU words[N];
      for (size_t i = 0; i < N; ++i) words[i] = hn::BitCast(DU(), rows[i]);
      Interleave(words);
      for (size_t i = 0; i < N; ++i) rows[i] = hn::BitCast(DF(), words[i]);
    }
#endif
    if (kFull || HWY_LIKELY(count_ == kWidth)) {
      for (size_t m = 0; m < N; ++m) hn::StoreU(rows[m], DF(), p + m * kWidth);
      return;
    }
    HWY_ALIGN float buffer[N * kWidth];
    for (size_t m = 0; m < N; ++m) hn::Store(rows[m], DF(), buffer + m * kWidth);
    std::memcpy(p, buffer, N * std::min<size_t>(count_, kWidth) * sizeof(float));
  }
  // Bytes: values below 256, N a multiple of 4. Four bytes of a lane form one 32-bit word;
  // the words are interleaved like floats.
  template <size_t N>
  void store_interleaved(uint8_t* p, const VU (&v)[N]) const {
    StoreInterleavedBytes</*kStream=*/false>(p, v);
  }
  // The same for an output no group reads again soon (an encoder's codes of a long sequence):
  // a full pack at an address aligned to its vector writes past the caches, as store_stream,
  // so that no line is first fetched for ownership; other packs store.
  template <size_t N>
  void store_interleaved_stream(uint8_t* p, const VU (&v)[N]) const {
    StoreInterleavedBytes</*kStream=*/true>(p, v);
  }

  // Inactive lanes read element 0.
  VF gather(const SimdArenaView<float>& view, VU index) const { return gather(view.data(), index); }
  VF gather(const float* base, VU index) const {
    return hn::GatherIndex(DF(), base, hn::BitCast(DI(), MaskIndex(index)));
  }
  VU gather(const uint32_t* base, VU index) const {
    return hn::BitCast(DU(), hn::GatherIndex(DI(), reinterpret_cast<const int32_t*>(base),
                                             hn::BitCast(DI(), MaskIndex(index))));
  }

  template <class T>
  auto load_strided(const T* p, size_t stride, uint32_t valid) const {
    HWY_ALIGN T column[kWidth] = {};
    const uint32_t n = std::min(valid, count_);
    for (uint32_t k = 0; k < n; ++k) column[k] = p[k * stride];
    return LanePack<DF, true>(first_, kWidth).load(static_cast<const T*>(column));
  }

  template <class T, uint32_t N>
  auto load(const LaneState<T, N>& state, uint32_t n) const {
    return hn::Load(hn::Rebind<T, DF>(), state.row(n) + first_);
  }
  template <class T, uint32_t N, class V>
  void store(const LaneState<T, N>& state, uint32_t n, V v) const {
    hn::Store(v, hn::Rebind<T, DF>(), state.row(n) + first_);
  }

 private:
  VU MaskIndex(VU index) const { return hn::IfThenElseZero(hn::RebindMask(DU(), active()), index); }

  // A partial pack reads only its active elements: copy them into a full-width buffer.
  template <uint32_t kPerLane, class T>
  HWY_INLINE void CopyActive(const T* p, T* buffer) const {
    for (uint32_t k = 0; k < kPerLane * kWidth; ++k) buffer[k] = k < kPerLane * count_ ? p[k] : T{};
  }
  // A partial pack loads its active elements from a copy padded with zeros. (The copy is local:
  // a pack is two integers, which a lane body that is not inlined takes in one register. With
  // a vector-sized buffer as a member it took 128 bytes on the stack, built with 32-bit stores
  // and copied with vector loads: a store-forwarding stall on every call.)
  template <class T, class Load>
  HWY_INLINE auto LoadActive(const T* p, const Load& load) const {
    if (kFull || HWY_LIKELY(count_ == kWidth)) return load(p);
    HWY_ALIGN T buffer[kWidth];
    CopyActive<1>(p, buffer);
    return load(static_cast<const T*>(buffer));
  }
  template <class D, class T>
  HWY_INLINE hn::Vec<D> LoadTail(D d, const T* p) const {
    return LoadActive(p, [d](const T* q) HWY_ATTR { return hn::LoadU(d, q); });
  }
  template <class D, class T>
  void StoreTail(D d, hn::Vec<D> v, T* p) const {
    if (kFull || HWY_LIKELY(count_ == kWidth)) return hn::StoreU(v, d, p);
    HWY_ALIGN T buffer[kWidth];
    hn::StoreU(v, d, buffer);
    for (uint32_t k = 0; k < kWidth; ++k) {
      if (k < count_) p[k] = buffer[k];
    }
  }
  // kWidth f16 values widened. F16C (x86, AVX2 and up) widens exactly and quiets a NaN keeping
  // its payload, as WidenF16 does (tests/convert_test.cc checks every pattern).
  static HWY_INLINE VF LoadF16(const f16* p) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(DF(), hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
#else
    const hn::Rebind<uint16_t, DF> d16;
    return WidenF16(hn::PromoteTo(DU(), hn::LoadU(d16, reinterpret_cast<const uint16_t*>(p))));
#endif
  }
  static HWY_INLINE VF LoadFull(const float* p) { return hn::LoadU(DF(), p); }
  static HWY_INLINE VF LoadFull(const f16* p) { return LoadF16(p); }

  // The 4·kWidth values at p into e[0..4): e[i] lane k = p[4k + i]. Deinterleave calls it for
  // f16, and for f32 on 4 and 8 lanes:
  //   AVX-512 f16: two 16-bit permutes of the 64 halves pick (e0, e1) and (e2, e3), then F16C.
  //   4 and 8 lanes: four vector loads, 128-bit blocks moved so that block b of row m holds
  //     group 4b + m, then a 4×4 transpose inside each block.
  //   Otherwise (one lane): element by element.
  template <class T>
  static HWY_INLINE void Deinterleave4(const T* p, VF (&e)[4]) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    if constexpr (kWidth == 16 && std::is_same_v<T, f16>) {
      HWY_ALIGN static constexpr uint16_t kPick[2][32] = {
          {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60,
           1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61},
          {2, 6, 10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62,
           3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63}};
      const __m512i lo = _mm512_loadu_si512(p);
      const __m512i hi = _mm512_loadu_si512(p + 32);
      for (uint32_t i = 0; i < 4; i += 2) {
        const __m512i x = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kPick[i / 2]), hi);
        e[i] = VF{_mm512_cvtph_ps(_mm512_castsi512_si256(x))};
        e[i + 1] = VF{_mm512_cvtph_ps(_mm512_extracti64x4_epi64(x, 1))};
      }
      return;
    }
#endif
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kWidth == 4 || kWidth == 8) {
      const DF d;
      VF r[4];
      for (uint32_t m = 0; m < 4; ++m) r[m] = LoadFull(p + m * kWidth);
      if constexpr (kWidth == 8) {
        const VF w0 = r[0], w1 = r[1], w2 = r[2], w3 = r[3];
        r[0] = hn::ConcatLowerLower(d, w2, w0);
        r[1] = hn::ConcatUpperUpper(d, w2, w0);
        r[2] = hn::ConcatLowerLower(d, w3, w1);
        r[3] = hn::ConcatUpperUpper(d, w3, w1);
      }
      const hn::Repartition<uint64_t, DF> d64;
      const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, r[0], r[1]));
      const auto t1 = hn::BitCast(d64, hn::InterleaveUpper(d, r[0], r[1]));
      const auto t2 = hn::BitCast(d64, hn::InterleaveLower(d, r[2], r[3]));
      const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, r[2], r[3]));
      e[0] = hn::BitCast(d, hn::InterleaveLower(d64, t0, t2));
      e[1] = hn::BitCast(d, hn::InterleaveUpper(d64, t0, t2));
      e[2] = hn::BitCast(d, hn::InterleaveLower(d64, t1, t3));
      e[3] = hn::BitCast(d, hn::InterleaveUpper(d64, t1, t3));
      return;
    }
#endif
    HWY_ALIGN T lanes[4][kWidth];
    for (uint32_t k = 0; k < kWidth; ++k) {
      for (uint32_t i = 0; i < 4; ++i) lanes[i][k] = p[4 * k + i];
    }
    for (uint32_t i = 0; i < 4; ++i) e[i] = LoadFull(static_cast<const T*>(lanes[i]));
  }

  // store_interleaved of bytes, past the caches (kStream) where the pack is full and aligned.
  template <bool kStream, size_t N>
  HWY_INLINE void StoreInterleavedBytes(uint8_t* p, const VU (&v)[N]) const {
    static_assert(N % 4 == 0 && ((N / 4) & (N / 4 - 1)) == 0, "N is 4 times a power of two");
    constexpr size_t kWords = N / 4;
    VU words[kWords];
    for (size_t t = 0; t < kWords; ++t) {
      words[t] = hn::Or(hn::Or(v[4 * t], hn::ShiftLeft<8>(v[4 * t + 1])),
                        hn::Or(hn::ShiftLeft<16>(v[4 * t + 2]), hn::ShiftLeft<24>(v[4 * t + 3])));
    }
#if HWY_TARGET != HWY_SCALAR
    Interleave(words);
#endif
    // Highway stores through intrinsics or byte copies, so the words may go to byte memory.
    if (kFull || HWY_LIKELY(count_ == kWidth)) {
      uint32_t* out = reinterpret_cast<uint32_t*>(p);
      const bool stream = kStream && reinterpret_cast<uintptr_t>(p) % (kWidth * 4) == 0;
      for (size_t m = 0; m < kWords; ++m) {
        if (stream) {
          hn::Stream(words[m], DU(), out + m * kWidth);
        } else {
          hn::StoreU(words[m], DU(), out + m * kWidth);
        }
      }
      return;
    }
    HWY_ALIGN uint32_t buffer[kWords * kWidth];
    for (size_t m = 0; m < kWords; ++m) hn::Store(words[m], DU(), buffer + m * kWidth);
    std::memcpy(p, buffer, N * std::min<size_t>(count_, kWidth));
  }

  // Deinterleave of N·kWidth values (groups of N) at p: e[i] lane k = p[N·k + i].
  template <class T, size_t N>
  HWY_INLINE void Deinterleave(const T* p, VF (&e)[N]) const {
    if constexpr (N == 4 && (!std::is_same_v<T, float> || kWidth == 4 || kWidth == 8)) {
      Deinterleave4(p, e);
    } else {
      static_assert(N >= 1 && (N & (N - 1)) == 0, "N is a power of two");
      for (size_t m = 0; m < N; ++m) e[m] = LoadFull(p + m * kWidth);
#if HWY_TARGET != HWY_SCALAR
      if constexpr (N == kWidth && kWidth <= 8) {
        transpose(e);
      } else {
        VU words[N];
        for (size_t m = 0; m < N; ++m) words[m] = hn::BitCast(DU(), e[m]);
        Uninterleave(words);
        for (size_t m = 0; m < N; ++m) e[m] = hn::BitCast(DF(), words[m]);
      }
#endif
    }
  }

#if HWY_TARGET != HWY_SCALAR
  // The N vectors at r, read as consecutive memory, split into N streams: afterwards r[i]
  // holds elements i, i + N, i + 2N, ... Each of log2(N) stages splits every pair of
  // vectors into its even and odd elements; with the evens first, the streams end in order.
  template <size_t N>
  static HWY_INLINE void Uninterleave(VU (&r)[N]) {
    const DU du;
    for (size_t stage = 1; stage < N; stage *= 2) {
      VU t[N];
      for (size_t a = 0; a < N / 2; ++a) {
        t[a] = hn::ConcatEven(du, r[2 * a + 1], r[2 * a]);
        t[N / 2 + a] = hn::ConcatOdd(du, r[2 * a + 1], r[2 * a]);
      }
      for (size_t m = 0; m < N; ++m) r[m] = t[m];
    }
  }
  // The inverse of Uninterleave: N streams into consecutive memory, by whole-vector zips.
  template <size_t N>
  static HWY_INLINE void Interleave(VU (&r)[N]) {
    for (size_t stage = 1; stage < N; stage *= 2) {
      VU t[N];
      for (size_t a = 0; a < N / 2; ++a) Zip(r[a], r[N / 2 + a], t[2 * a], t[2 * a + 1]);
      for (size_t m = 0; m < N; ++m) r[m] = t[m];
    }
  }
  // lo = a0 b0 a1 b1 ... (the lower halves of a and b, interleaved), hi = the upper halves.
  static HWY_INLINE void Zip(VU a, VU b, VU& lo, VU& hi) {
    const DU du;
    if constexpr (kWidth == 16) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
      HWY_ALIGN static constexpr uint32_t kZip[2][16] = {
          {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23},
          {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}};
      lo = VU{_mm512_permutex2var_epi32(a.raw, hn::Load(du, kZip[0]).raw, b.raw)};
      hi = VU{_mm512_permutex2var_epi32(a.raw, hn::Load(du, kZip[1]).raw, b.raw)};
#endif
    } else {
      // InterleaveLower/Upper work inside 128-bit blocks (block j of them zips block j of a
      // and b), so the zip of the whole lower halves is blocks 0, 1 of the lower, then the upper.
      const VU lower = hn::InterleaveLower(du, a, b), upper = hn::InterleaveUpper(du, a, b);
      if constexpr (kWidth == 4) {
        lo = lower;
        hi = upper;
      } else {
        static_assert(kWidth == 8, "Zip: 4, 8 or (AVX-512) 16 lanes");
        lo = hn::ConcatLowerLower(du, upper, lower);
        hi = hn::ConcatUpperUpper(du, upper, lower);
      }
    }
  }
#endif

  template <class T>
  VU Load16(const T* p) const {
    const hn::Rebind<uint16_t, DF> d16;
    return hn::PromoteTo(DU(), LoadTail(d16, reinterpret_cast<const uint16_t*>(p)));
  }
  template <class T>
  void Store16(VU bits, T* p) const {
    const hn::Rebind<uint16_t, DF> d16;
    StoreTail(d16, hn::DemoteTo(d16, hn::BitCast(DI(), bits)), reinterpret_cast<uint16_t*>(p));
  }

  uint32_t first_;
  uint32_t count_;
};

// ===========================================================================================
// Groups
// ===========================================================================================

namespace impl {

// What both group kinds share: position, arenas, lane state, collectives.
class GroupBase {
 public:
  GroupBase(const tgk::detail::GroupBatch& batch, Dim3 id) : batch_(batch), id_(id) {}

  Dim3 group_id() const { return id_; }
  Dim3 grid_size() const { return batch_.geometry->grid; }
  uint32_t size() const { return batch_.geometry->group_size; }
  uint32_t simdgroups() const { return (size() + kSimdWidth - 1) / kSimdWidth; }
  // Bytes of arena `index`, as dispatched.
  size_t arena_bytes(uint32_t index) const { return batch_.geometry->arenas[index]; }

  // Only the first `slots` (<= N) of the N values per lane exist: a kernel that sizes its state
  // by a run-time count allocates (and clears) no more than it uses.
  template <class T, uint32_t N = 1>
  LaneState<T, N> lane_state(uint32_t slots = N) {
    return AllocateState<T, N>(slots, tgk::detail::ThreadScratch::Fill::kZero);
  }

  // Simdgroup collectives over lane state slot n; every active lane of a simdgroup receives
  // the result (docs/spec/README.md: canonical halving tree for the sum, maxNum with -0 < +0).
  template <uint32_t N>
  void simd_sum(const LaneState<float, N>& state, uint32_t n = 0) {
    tgk::detail::SimdSum(state.row(n), size());
  }
  template <uint32_t N>
  void simd_max(const LaneState<float, N>& state, uint32_t n = 0) {
    tgk::detail::SimdMax(state.row(n), size());
  }
  // The multi-value sum: lane i (i < 32) of every simdgroup receives, in row `out_row` of `out`,
  // the sum over the simdgroup of row `first + i` of `in` (32 simd_sums, each in the canonical
  // order, one result per lane). `out` must be another lane state than `in`.
  template <uint32_t N, uint32_t M>
  void simd_sum_rows(const LaneState<float, N>& in, uint32_t first, const LaneState<float, M>& out,
                     uint32_t out_row) {
    tgk::detail::SimdSumRows(in.row(first), in.stride(), out.row(out_row), size());
  }
  // The Walsh–Hadamard butterfly across each simdgroup on rows [first, first + n) of `state`:
  // stages m = 1, 2, 4, 8, 16, each replacing the values of lanes l and l + m (l & m == 0) by
  // their sum and difference (detail::SimdHadamardRows; a lane without a partner in the group
  // keeps its value).
  template <uint32_t N>
  void simd_hadamard(const LaneState<float, N>& state, uint32_t first, uint32_t n) {
    tgk::detail::SimdHadamardRows(state.row(first), state.stride(), n, size());
  }
  // Lane l receives the value of lane l ^ mask (its own when that lane is past the group).
  template <class T, uint32_t N>
  void simd_shuffle_xor(const LaneState<T, N>& state, uint32_t mask, uint32_t n = 0) {
    tgk::detail::SimdShuffleXor(state.row(n), size(), mask);
  }
  // Every lane receives the value of lane `source` (0..31) of its simdgroup (a simdgroup that
  // has no such lane, the partial last one, is left unchanged).
  template <class T, uint32_t N>
  void simd_broadcast(const LaneState<T, N>& state, uint32_t source, uint32_t n = 0) {
    tgk::detail::SimdBroadcast(state.row(n), size(), source);
  }

 protected:
  template <class T, uint32_t N>
  LaneState<T, N> AllocateState(uint32_t slots, tgk::detail::ThreadScratch::Fill fill) {
    const uint32_t stride =
        (size() + kLaneStatePadding - 1) / kLaneStatePadding * kLaneStatePadding;
    void* p = batch_.scratch->AllocateLaneState(sizeof(T) * std::min(slots, N) * stride, fill);
    return LaneState<T, N>(static_cast<T*>(p), stride);
  }

  const tgk::detail::GroupBatch& batch_;
  Dim3 id_;
};

}  // namespace impl

class ScalarGroup : public impl::GroupBase {
 public:
  using Lane = ScalarLane;
  ScalarGroup(const tgk::detail::GroupBatch& batch, Dim3 id)
      : GroupBase(batch, id), checker_(batch.checker) {
    if (checker_) checker_->BeginGroup(batch.kernel_name, *batch.geometry, id_);
  }

  template <class T>
  ScalarArenaView<T> arena(uint32_t index) const {
    return ScalarArenaView<T>(reinterpret_cast<T*>(batch_.scratch->arena(index)),
                              arena_bytes(index) / sizeof(T), index, checker_);
  }

  // Lane state that the kernel writes before it reads (GroupBase::lane_state without the
  // zeroing): the scalar lanes fill it with 0xFF bytes (NaN for floats), so that a read before
  // a write shows in the oracle's results.
  template <class T, uint32_t N = 1>
  LaneState<T, N> uninitialized_lane_state(uint32_t slots = N) {
    LaneState<T, N> state = AllocateState<T, N>(slots, tgk::detail::ThreadScratch::Fill::kNone);
    std::memset(static_cast<void*>(state.row(0)), 0xFF,
                sizeof(T) * std::min(slots, N) * state.stride());
    return state;
  }

  template <class Body>
  void for_each_lane(Body&& body) {
    for (uint32_t l = 0; l < size(); ++l) {
      if (checker_) checker_->SetLane(int32_t(l));
      body(ScalarLane(l));
    }
    if (checker_) checker_->SetLane(tgk::detail::RaceChecker::kGroupLevel);
  }
  void barrier() {
    if (checker_) checker_->Barrier();
  }

 private:
  tgk::detail::RaceChecker* checker_;
};

class SimdGroup : public impl::GroupBase {
 public:
  using Lane = LanePack<hn::ScalableTag<float>>;
  using FullLane = LanePack<hn::ScalableTag<float>, true>;
  static_assert(sizeof(FullLane) == 2 * sizeof(uint32_t), "a pack travels in one register");
  using GroupBase::GroupBase;

  template <class T>
  SimdArenaView<T> arena(uint32_t index) const {
    return SimdArenaView<T>(reinterpret_cast<T*>(batch_.scratch->arena(index)),
                            arena_bytes(index) / sizeof(T));
  }

  // Its values are whatever the thread's scratch held (see ScalarGroup).
  template <class T, uint32_t N = 1>
  LaneState<T, N> uninitialized_lane_state(uint32_t slots = N) {
    return AllocateState<T, N>(slots, tgk::detail::ThreadScratch::Fill::kNone);
  }

  // The collectives of GroupBase, by whole vectors (collectives-inl.h), with the same bits.
  template <uint32_t N>
  void simd_sum(const LaneState<float, N>& state, uint32_t n = 0) {
    collectives::SimdReduceVec(
        state.row(n), size(), [](Lane::VF a, Lane::VF b) HWY_ATTR { return hn::Add(a, b); },
        tgk::detail::Plus);
  }
  template <uint32_t N>
  void simd_max(const LaneState<float, N>& state, uint32_t n = 0) {
    collectives::SimdReduceVec(state.row(n), size(), Max, tgk::detail::CanonicalMax);
  }
  template <uint32_t N, uint32_t M>
  void simd_sum_rows(const LaneState<float, N>& in, uint32_t first, const LaneState<float, M>& out,
                     uint32_t out_row) {
    collectives::SimdSumRowsVec(in.row(first), in.stride(), out.row(out_row), size());
  }
  template <uint32_t N>
  void simd_hadamard(const LaneState<float, N>& state, uint32_t first, uint32_t n) {
    collectives::SimdHadamardRowsVec(state.row(first), state.stride(), n, size());
  }

  template <class Body>
  HWY_INLINE void for_each_lane(Body&& body) {
    const uint32_t n = size();
    uint32_t first = 0;
    // Full packs get the type without a tail path, so that their loops stay free of it (a
    // branch to a copy in every load keeps the compiler from holding accumulators in
    // registers); only a partial last pack runs the general type.
    for (; first + Lane::kWidth <= n; first += Lane::kWidth) body(FullLane(first, Lane::kWidth));
    if (first < n) body(Lane(first, n - first));
  }
  void barrier() {}
};

// Runs groups [batch.begin, batch.end) of a kernel with group type G.
// The ids of consecutive linear indices advance x first, then y, then z: only the first is
// divided out (three 64-bit divisions, a cost that shows in kernels of small groups).
template <class G, class Kernel>
HWY_NOINLINE void RunGroups(const Kernel& kernel, const tgk::detail::GroupBatch& batch) {
  const Dim3 grid = batch.geometry->grid;
  Dim3 id = batch.geometry->GroupId(batch.begin);
  for (uint64_t linear = batch.begin; linear < batch.end; ++linear) {
    G group(batch, id);
    kernel(group);
    batch.scratch->ReleaseLaneState();
    if (++id.x == grid.x) {
      id.x = 0;
      if (++id.y == grid.y) {
        id.y = 0;
        ++id.z;
      }
    }
  }
  // store_stream's non-temporal stores are weakly ordered: the fence orders them before the
  // stores that tell other threads this batch is done.
  hwy::FlushStream();
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

// In a kernel's foreach_target .cc, inside namespace tgk::HWY_NAMESPACE (within
// HWY_BEFORE_NAMESPACE): defines the scalar and SIMD runners of functor `Kernel`, constructed
// from its argument struct `Args`. The scalar runner is inline: only the static target's is
// used (TGK_EXPORT_KERNEL), so the other targets' passes emit no code for it.
#define TGK_DEFINE_KERNEL_RUNNERS(Kernel, Args)                                   \
  inline void Kernel##_RunScalar(const ::tgk::detail::GroupBatch& batch) {        \
    RunGroups<ScalarGroup>(Kernel{*static_cast<const Args*>(batch.args)}, batch); \
  }                                                                               \
  void Kernel##_RunSimd(const ::tgk::detail::GroupBatch& batch) {                 \
    RunGroups<SimdGroup>(Kernel{*static_cast<const Args*>(batch.args)}, batch);   \
  }

// In the same .cc, inside `#if HWY_ONCE` and namespace tgk: exports the runners and defines
// `const tgk::detail::KernelEntry& Kernel##Entry()`, which Queue::dispatch takes.
#define TGK_EXPORT_KERNEL(Kernel, kernel_name)                                              \
  HWY_EXPORT(Kernel##_RunSimd);                                                             \
  const ::tgk::detail::KernelEntry& Kernel##Entry() {                                       \
    static const ::tgk::detail::KernelEntry entry{kernel_name,                              \
                                                  &HWY_STATIC_DISPATCH(Kernel##_RunScalar), \
                                                  HWY_DISPATCH_TABLE(Kernel##_RunSimd)};    \
    return entry;                                                                           \
  }

#endif  // TGK_GROUP_INL_H_
