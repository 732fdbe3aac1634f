// The TurboQuant KV tables (docs/spec/tq_codebooks.md), copied literal for literal: every value is
// the spec's decimal literal with an f suffix, so the compiler parses it to the nearest binary32
// value exactly as the reference implementation does. Rows hold 8 entries like the spec's
// tables (row k starts at index 8·k).
//
// The boundary tables are data, not midpoints: several entries are one ulp away from the
// binary32 midpoint of their neighbouring levels, and the encoders must compare against these.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"
#include "tgk/table.h"

namespace tgk {

// clang-format off
// C_2: 4 levels (the CPU reference module only; no kernel uses it).
inline constexpr float kTqCodebook2[4] = {
    -1.5104176f, -0.4527800f, 0.4527800f, 1.5104176f,
};

// C_3: 8 levels (the CPU reference module only; no kernel uses it).
inline constexpr float kTqCodebook3[8] = {
    -2.1519457f, -1.3439093f, -0.7560053f, -0.2450942f, 0.2450942f, 0.7560053f, 1.3439093f, 2.1519457f,
};

// C_4: 16 levels.
inline constexpr float kTqCodebook4[16] = {
    -2.7325896f, -2.0690172f, -1.6180464f, -1.2562312f, -0.9423405f, -0.6567591f, -0.3880483f, -0.1283950f,
    0.1283950f, 0.3880483f, 0.6567591f, 0.9423405f, 1.2562312f, 1.6180464f, 2.0690172f, 2.7325896f,
};

// T_4: 15 decision boundaries.
inline constexpr float kTqBoundaries4[15] = {
    -2.4008034f, -1.8435318f, -1.4371388f, -1.0992859f, -0.7995498f, -0.5224037f, -0.2582217f, 0.0000000f,
    0.2582217f, 0.5224037f, 0.7995498f, 1.0992859f, 1.4371388f, 1.8435318f, 2.4008034f,
};

// C_5: 32 levels.
inline constexpr float kTqCodebook5[32] = {
    -3.2606790f, -2.6910589f, -2.3176743f, -2.0286608f, -1.7871646f, -1.5761599f, -1.3862739f, -1.2117410f,
    -1.0487242f, -0.8945114f, -0.7470884f, -0.6048936f, -0.4666676f, -0.3313550f, -0.1980377f, -0.0658849f,
    0.0658849f, 0.1980377f, 0.3313550f, 0.4666676f, 0.6048936f, 0.7470884f, 0.8945114f, 1.0487242f,
    1.2117410f, 1.3862739f, 1.5761599f, 1.7871646f, 2.0286608f, 2.3176743f, 2.6910589f, 3.2606790f,
};

// T_5: 31 decision boundaries.
inline constexpr float kTqBoundaries5[31] = {
    -2.9758689f, -2.5043666f, -2.1731675f, -1.9079127f, -1.6816622f, -1.4812169f, -1.2990074f, -1.1302326f,
    -0.9716178f, -0.8207999f, -0.6759910f, -0.5357806f, -0.3990113f, -0.2646964f, -0.1319613f, 0.0000000f,
    0.1319613f, 0.2646964f, 0.3990113f, 0.5357806f, 0.6759910f, 0.8207999f, 0.9716178f, 1.1302326f,
    1.2990074f, 1.4812169f, 1.6816622f, 1.9079127f, 2.1731675f, 2.5043666f, 2.9758689f,
};

// C_6: 64 levels.
inline constexpr float kTqCodebook6[64] = {
    -3.6996161f, -3.1907215f, -2.8640626f, -2.6161277f, -2.4129324f, -2.2388464f, -2.0853192f, -1.9471373f,
    -1.8208742f, -1.7041502f, -1.5952401f, -1.4928497f, -1.3959804f, -1.3038428f, -1.2157998f, -1.1313277f,
    -1.0499889f, -0.9714118f, -0.8952766f, -0.8213046f, -0.7492492f, -0.6788902f, -0.6100285f, -0.5424819f,
    -0.4760822f, -0.4106724f, -0.3461048f, -0.2822386f, -0.2189392f, -0.1560761f, -0.0935225f, -0.0311537f,
    0.0311537f, 0.0935225f, 0.1560761f, 0.2189392f, 0.2822386f, 0.3461048f, 0.4106724f, 0.4760822f,
    0.5424819f, 0.6100285f, 0.6788902f, 0.7492492f, 0.8213046f, 0.8952766f, 0.9714118f, 1.0499889f,
    1.1313277f, 1.2157998f, 1.3038428f, 1.3959804f, 1.4928497f, 1.5952401f, 1.7041502f, 1.8208742f,
    1.9471373f, 2.0853192f, 2.2388464f, 2.4129324f, 2.6161277f, 2.8640626f, 3.1907215f, 3.6996161f,
};

// T_6: 63 decision boundaries.
inline constexpr float kTqBoundaries6[63] = {
    -3.4451688f, -3.0273920f, -2.7400952f, -2.5145300f, -2.3258894f, -2.1620828f, -2.0162282f, -1.8840057f,
    -1.7625122f, -1.6496952f, -1.5440449f, -1.4444151f, -1.3499116f, -1.2598213f, -1.1735638f, -1.0906583f,
    -1.0107003f, -0.9333442f, -0.8582906f, -0.7852769f, -0.7140697f, -0.6444593f, -0.5762552f, -0.5092820f,
    -0.4433773f, -0.3783886f, -0.3141717f, -0.2505889f, -0.1875076f, -0.1247993f, -0.0623381f, 0.0000000f,
    0.0623381f, 0.1247993f, 0.1875076f, 0.2505889f, 0.3141717f, 0.3783886f, 0.4433773f, 0.5092820f,
    0.5762552f, 0.6444593f, 0.7140697f, 0.7852769f, 0.8582906f, 0.9333442f, 1.0107003f, 1.0906583f,
    1.1735638f, 1.2598213f, 1.3499116f, 1.4444151f, 1.5440449f, 1.6496952f, 1.7625122f, 1.8840057f,
    2.0162282f, 2.1620828f, 2.3258894f, 2.5145300f, 2.7400952f, 3.0273920f, 3.4451688f,
};

// C_8: 256 levels.
inline constexpr float kTqCodebook8[256] = {
    -5.0652659f, -4.6836997f, -4.4467193f, -4.2715508f, -4.1311907f, -4.0132856f, -3.9111092f, -3.8205780f,
    -3.7390194f, -3.6645851f, -3.5959415f, -3.5320936f, -3.4722785f, -3.4158977f, -3.3624729f, -3.3116156f,
    -3.2630056f, -3.2163758f, -3.1715011f, -3.1281899f, -3.0862780f, -3.0456229f, -3.0061011f, -2.9676040f,
    -2.9300362f, -2.8933131f, -2.8573596f, -2.8221086f, -2.7874999f, -2.7534795f, -2.7199985f, -2.6870129f,
    -2.6544825f, -2.6223710f, -2.5906452f, -2.5592748f, -2.5282321f, -2.4974918f, -2.4670306f, -2.4368270f,
    -2.4068614f, -2.3771157f, -2.3475732f, -2.3182184f, -2.2890372f, -2.2600165f, -2.2311440f, -2.2024086f,
    -2.1737998f, -2.1453081f, -2.1169245f, -2.0886408f, -2.0604493f, -2.0323430f, -2.0043154f, -1.9763603f,
    -1.9484722f, -1.9206458f, -1.8928763f, -1.8651592f, -1.8374904f, -1.8098662f, -1.7822828f, -1.7547372f,
    -1.7272261f, -1.6997469f, -1.6722970f, -1.6448739f, -1.6174755f, -1.5900996f, -1.5627445f, -1.5354084f,
    -1.5080897f, -1.4807869f, -1.4534986f, -1.4262237f, -1.3989610f, -1.3717093f, -1.3444678f, -1.3172356f,
    -1.2900118f, -1.2627956f, -1.2355865f, -1.2083838f, -1.1811868f, -1.1539951f, -1.1268081f, -1.0996255f,
    -1.0724469f, -1.0452718f, -1.0180999f, -0.9909310f, -0.9637647f, -0.9366008f, -0.9094390f, -0.8822793f,
    -0.8551212f, -0.8279648f, -0.8008098f, -0.7736561f, -0.7465035f, -0.7193520f, -0.6922014f, -0.6650517f,
    -0.6379027f, -0.6107544f, -0.5836067f, -0.5564596f, -0.5293129f, -0.5021667f, -0.4750208f, -0.4478753f,
    -0.4207301f, -0.3935852f, -0.3664405f, -0.3392960f, -0.3121517f, -0.2850076f, -0.2578636f, -0.2307198f,
    -0.2035761f, -0.1764324f, -0.1492888f, -0.1221453f, -0.0950019f, -0.0678584f, -0.0407151f, -0.0135717f,
    0.0135717f, 0.0407151f, 0.0678584f, 0.0950019f, 0.1221453f, 0.1492888f, 0.1764324f, 0.2035761f,
    0.2307198f, 0.2578636f, 0.2850076f, 0.3121517f, 0.3392960f, 0.3664405f, 0.3935852f, 0.4207301f,
    0.4478753f, 0.4750208f, 0.5021667f, 0.5293129f, 0.5564596f, 0.5836067f, 0.6107544f, 0.6379027f,
    0.6650517f, 0.6922014f, 0.7193520f, 0.7465035f, 0.7736561f, 0.8008098f, 0.8279648f, 0.8551212f,
    0.8822793f, 0.9094390f, 0.9366008f, 0.9637647f, 0.9909310f, 1.0180999f, 1.0452718f, 1.0724469f,
    1.0996255f, 1.1268081f, 1.1539951f, 1.1811868f, 1.2083838f, 1.2355865f, 1.2627956f, 1.2900118f,
    1.3172356f, 1.3444678f, 1.3717093f, 1.3989610f, 1.4262237f, 1.4534986f, 1.4807869f, 1.5080897f,
    1.5354084f, 1.5627445f, 1.5900996f, 1.6174755f, 1.6448739f, 1.6722970f, 1.6997469f, 1.7272261f,
    1.7547372f, 1.7822828f, 1.8098662f, 1.8374904f, 1.8651592f, 1.8928763f, 1.9206458f, 1.9484722f,
    1.9763603f, 2.0043154f, 2.0323430f, 2.0604493f, 2.0886408f, 2.1169245f, 2.1453081f, 2.1737998f,
    2.2024086f, 2.2311440f, 2.2600165f, 2.2890372f, 2.3182184f, 2.3475732f, 2.3771157f, 2.4068614f,
    2.4368270f, 2.4670306f, 2.4974918f, 2.5282321f, 2.5592748f, 2.5906452f, 2.6223710f, 2.6544825f,
    2.6870129f, 2.7199985f, 2.7534795f, 2.7874999f, 2.8221086f, 2.8573596f, 2.8933131f, 2.9300362f,
    2.9676040f, 3.0061011f, 3.0456229f, 3.0862780f, 3.1281899f, 3.1715011f, 3.2163758f, 3.2630056f,
    3.3116156f, 3.3624729f, 3.4158977f, 3.4722785f, 3.5320936f, 3.5959415f, 3.6645851f, 3.7390194f,
    3.8205780f, 3.9111092f, 4.0132856f, 4.1311907f, 4.2715508f, 4.4467193f, 4.6836997f, 5.0652659f,
};

// T_8: 255 decision boundaries.
inline constexpr float kTqBoundaries8[255] = {
    -4.8744828f, -4.5652095f, -4.3591350f, -4.2013707f, -4.0722382f, -3.9621974f, -3.8658436f, -3.7797987f,
    -3.7018022f, -3.6302633f, -3.5640175f, -3.5021860f, -3.4440881f, -3.3891853f, -3.3370443f, -3.2873106f,
    -3.2396907f, -3.1939384f, -3.1498455f, -3.1072339f, -3.0659504f, -3.0258620f, -2.9868525f, -2.9488201f,
    -2.9116746f, -2.8753363f, -2.8397341f, -2.8048042f, -2.7704897f, -2.7367390f, -2.7035057f, -2.6707477f,
    -2.6384267f, -2.6065081f, -2.5749600f, -2.5437535f, -2.5128620f, -2.4822612f, -2.4519288f, -2.4218442f,
    -2.3919885f, -2.3623444f, -2.3328958f, -2.3036278f, -2.2745269f, -2.2455802f, -2.2167763f, -2.1881042f,
    -2.1595539f, -2.1311163f, -2.1027826f, -2.0745450f, -2.0463962f, -2.0183292f, -1.9903379f, -1.9624162f,
    -1.9345590f, -1.9067610f, -1.8790177f, -1.8513248f, -1.8236783f, -1.7960745f, -1.7685100f, -1.7409817f,
    -1.7134865f, -1.6860220f, -1.6585855f, -1.6311747f, -1.6037875f, -1.5764221f, -1.5490764f, -1.5217490f,
    -1.4944383f, -1.4671427f, -1.4398612f, -1.4125923f, -1.3853351f, -1.3580886f, -1.3308517f, -1.3036237f,
    -1.2764037f, -1.2491911f, -1.2219851f, -1.1947853f, -1.1675909f, -1.1404016f, -1.1132168f, -1.0860362f,
    -1.0588593f, -1.0316859f, -1.0045155f, -0.9773478f, -0.9501827f, -0.9230199f, -0.8958592f, -0.8687003f,
    -0.8415430f, -0.8143873f, -0.7872329f, -0.7600798f, -0.7329278f, -0.7057767f, -0.6786266f, -0.6514772f,
    -0.6243286f, -0.5971806f, -0.5700331f, -0.5428862f, -0.5157398f, -0.4885937f, -0.4614481f, -0.4343027f,
    -0.4071577f, -0.3800128f, -0.3528683f, -0.3257239f, -0.2985797f, -0.2714356f, -0.2442917f, -0.2171479f,
    -0.1900042f, -0.1628606f, -0.1357171f, -0.1085736f, -0.0814302f, -0.0542868f, -0.0271434f, 0.0000000f,
    0.0271434f, 0.0542868f, 0.0814302f, 0.1085736f, 0.1357171f, 0.1628606f, 0.1900042f, 0.2171479f,
    0.2442917f, 0.2714356f, 0.2985797f, 0.3257239f, 0.3528683f, 0.3800128f, 0.4071577f, 0.4343027f,
    0.4614481f, 0.4885937f, 0.5157398f, 0.5428862f, 0.5700331f, 0.5971806f, 0.6243286f, 0.6514772f,
    0.6786266f, 0.7057767f, 0.7329278f, 0.7600798f, 0.7872329f, 0.8143873f, 0.8415430f, 0.8687003f,
    0.8958592f, 0.9230199f, 0.9501827f, 0.9773478f, 1.0045155f, 1.0316859f, 1.0588593f, 1.0860362f,
    1.1132168f, 1.1404016f, 1.1675909f, 1.1947853f, 1.2219851f, 1.2491911f, 1.2764037f, 1.3036237f,
    1.3308517f, 1.3580886f, 1.3853351f, 1.4125923f, 1.4398612f, 1.4671427f, 1.4944383f, 1.5217490f,
    1.5490764f, 1.5764221f, 1.6037875f, 1.6311747f, 1.6585855f, 1.6860220f, 1.7134865f, 1.7409817f,
    1.7685100f, 1.7960745f, 1.8236783f, 1.8513248f, 1.8790177f, 1.9067610f, 1.9345590f, 1.9624162f,
    1.9903379f, 2.0183292f, 2.0463962f, 2.0745450f, 2.1027826f, 2.1311163f, 2.1595539f, 2.1881042f,
    2.2167763f, 2.2455802f, 2.2745269f, 2.3036278f, 2.3328958f, 2.3623444f, 2.3919885f, 2.4218442f,
    2.4519288f, 2.4822612f, 2.5128620f, 2.5437535f, 2.5749600f, 2.6065081f, 2.6384267f, 2.6707477f,
    2.7035057f, 2.7367390f, 2.7704897f, 2.8048042f, 2.8397341f, 2.8753363f, 2.9116746f, 2.9488201f,
    2.9868525f, 3.0258620f, 3.0659504f, 3.1072339f, 3.1498455f, 3.1939384f, 3.2396907f, 3.2873106f,
    3.3370443f, 3.3891853f, 3.4440881f, 3.5021860f, 3.5640175f, 3.6302633f, 3.7018022f, 3.7797987f,
    3.8658436f, 3.9621974f, 4.0722382f, 4.2013707f, 4.3591350f, 4.5652095f, 4.8744828f,
};

// S_256: SRHT signs for head_dim 256, bit j = (S[j >> 3] >> (j & 7)) & 1, 1 means -1.
inline constexpr uint8_t kTqSigns256[32] = {
    0xa7, 0x3b, 0x91, 0xf4, 0x6d, 0xc2, 0x58, 0x0e,
    0xb3, 0x7f, 0x24, 0xd6, 0x89, 0x45, 0xea, 0x1c,
    0x63, 0xaf, 0xd8, 0x52, 0x97, 0x0b, 0xe1, 0x3d,
    0x76, 0xc4, 0x19, 0xfe, 0x4a, 0x85, 0x2c, 0xdb,
};

// S_512: SRHT signs for head_dim 512 (its first 32 bytes equal S_256).
inline constexpr uint8_t kTqSigns512[64] = {
    0xa7, 0x3b, 0x91, 0xf4, 0x6d, 0xc2, 0x58, 0x0e,
    0xb3, 0x7f, 0x24, 0xd6, 0x89, 0x45, 0xea, 0x1c,
    0x63, 0xaf, 0xd8, 0x52, 0x97, 0x0b, 0xe1, 0x3d,
    0x76, 0xc4, 0x19, 0xfe, 0x4a, 0x85, 0x2c, 0xdb,
    0xd3, 0x4e, 0xa8, 0x17, 0x9c, 0x5b, 0xe6, 0x31,
    0x72, 0xb9, 0x0d, 0xf5, 0x43, 0x8a, 0x6e, 0xc7,
    0x58, 0x2f, 0x94, 0xe1, 0xb6, 0x3d, 0x0a, 0x7c,
    0xc5, 0x61, 0xd8, 0x4f, 0xa3, 0x97, 0x1e, 0x85,
};
// clang-format on

// σ as binary32 factors ±1.0f, element j of a head vector: the encoders compute x_j·σ_j and
// the inverse rotation σ_j·v_j, as the spec states them (both exact).
template <size_t kBytes>
constexpr std::array<float, kBytes * 8> TqSignFactors(const uint8_t (&bits)[kBytes]) {
  std::array<float, kBytes * 8> sigma{};
  for (size_t j = 0; j < kBytes * 8; ++j) sigma[j] = ((bits[j >> 3] >> (j & 7)) & 1) ? -1.0f : 1.0f;
  return sigma;
}
inline constexpr std::array<float, 256> kTqSigma256 = TqSignFactors(kTqSigns256);
inline constexpr std::array<float, 512> kTqSigma512 = TqSignFactors(kTqSigns512);

// The same factors in the order of the 32-lane kernels (lane l holds elements l·E .. l·E + E − 1,
// E = D / 32): entry i·32 + l is σ_j of j = l·E + i, so that lanes read their i-th factors from
// consecutive entries.
template <size_t kD>
constexpr std::array<float, kD> TqSignFactorsByLane(const std::array<float, kD>& sigma) {
  constexpr size_t kE = kD / kSimdWidth;
  std::array<float, kD> by_lane{};
  for (size_t l = 0; l < kSimdWidth; ++l) {
    for (size_t i = 0; i < kE; ++i) by_lane[i * kSimdWidth + l] = sigma[l * kE + i];
  }
  return by_lane;
}
inline constexpr std::array<float, 256> kTqSigmaByLane256 = TqSignFactorsByLane(kTqSigma256);
inline constexpr std::array<float, 512> kTqSigmaByLane512 = TqSignFactorsByLane(kTqSigma512);

// C_256 in the form of the byte-table operations (tgk/table.h), which need it odd.
static_assert(IsOddTable256(kTqCodebook8), "C_256 is exactly antisymmetric");
inline constexpr ByteTable256 kTqTable8 = MakeByteTable256(kTqCodebook8);

// T_b as the encoders search it (tgk/table.h): the binary search is the count of the spec's idx_b
// only over sorted boundaries.
static_assert(IsNonDecreasing(kTqBoundaries4) && IsNonDecreasing(kTqBoundaries5) &&
              IsNonDecreasing(kTqBoundaries6) && IsNonDecreasing(kTqBoundaries8));
// Also in bins, for the direct lookup (BinnedBucketTable: the initialisation does not compile if
// a bin holds two boundaries), as few as separate them: the span of T_4 is 19 times its least
// gap, of T_5 46 times, of T_6 111 times, of T_8 360 times.
inline constexpr BinnedBucketTable<16, 32> kTqBuckets4 =
    MakeBinnedBucketTable<16, 32>(kTqBoundaries4);
inline constexpr BinnedBucketTable<32, 64> kTqBuckets5 =
    MakeBinnedBucketTable<32, 64>(kTqBoundaries5);
inline constexpr BinnedBucketTable<64, 128> kTqBuckets6 =
    MakeBinnedBucketTable<64, 128>(kTqBoundaries6);
inline constexpr BinnedBucketTable<256, 512> kTqBuckets8 =
    MakeBinnedBucketTable<256, 512>(kTqBoundaries8);

template <uint32_t kBits>
constexpr const auto& TqBucketsFor() {
  static_assert(kBits == 4 || kBits == 5 || kBits == 6 || kBits == 8);
  if constexpr (kBits == 4) {
    return kTqBuckets4;
  } else if constexpr (kBits == 5) {
    return kTqBuckets5;
  } else if constexpr (kBits == 6) {
    return kTqBuckets6;
  } else {
    return kTqBuckets8;
  }
}

// The codebook and boundaries of a bit width; any width but 4, 5 and 6 selects the 8-bit
// tables, as the kernels do.
struct TqTable {
  const float* codebook;
  const float* boundaries;  // levels - 1 entries
  uint32_t levels;
};
inline TqTable TqTableFor(uint32_t bits) {
  switch (bits) {
    case 4:
      return {kTqCodebook4, kTqBoundaries4, 16};
    case 5:
      return {kTqCodebook5, kTqBoundaries5, 32};
    case 6:
      return {kTqCodebook6, kTqBoundaries6, 64};
    default:
      return {kTqCodebook8, kTqBoundaries8, 256};
  }
}

}  // namespace tgk
