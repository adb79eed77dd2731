#ifndef INTRINSICS_H
#define INTRINSICS_H

// Instructions Swift cannot spell (or does not inline): for `listWindows`'s compaction
// (Sources/Kernels/Convolution.swift) a lane permutation, a lane mask's sign bits and 8 bytes
// widened to 8 integers, and a prefetch for the shuffled images a batch reads. Inlined into the
// Swift that calls them, as one instruction each on AVX2, plain loops elsewhere.

#include <stdint.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

/// Imported into Swift as SIMD8<Float> and SIMD8<Int32>.
typedef float lanes_float8 __attribute__((ext_vector_type(8)));
typedef int32_t lanes_int8 __attribute__((ext_vector_type(8)));

/// Lane j of the result is lane `indices[j] & 7` of `v` (vpermps).
static inline __attribute__((always_inline)) lanes_float8 lanes_permute_float8(lanes_float8 v, lanes_int8 indices) {
#if defined(__AVX2__)
    return (lanes_float8)_mm256_permutevar8x32_ps((__m256)v, (__m256i)indices);
#else
    lanes_float8 r;
    for (int j = 0; j < 8; j++) r[j] = v[indices[j] & 7];
    return r;
#endif
}

/// Lane j of the result is lane `indices[j] & 7` of `v`: the same permutation on integers.
static inline __attribute__((always_inline)) lanes_int8 lanes_permute_int8(lanes_int8 v, lanes_int8 indices) {
    return (lanes_int8)lanes_permute_float8((lanes_float8)v, indices);
}

/// Bit j set where lane j of `v` is negative, as a comparison's all-ones lanes are (vmovmskps).
static inline __attribute__((always_inline)) int lanes_sign_bits(lanes_int8 v) {
#if defined(__AVX2__)
    return _mm256_movemask_ps((__m256)v);
#else
    int bits = 0;
    for (int j = 0; j < 8; j++) bits |= (v[j] < 0) << j;
    return bits;
#endif
}

/// The 8 bytes at `p`, zero-extended (vpmovzxbd).
static inline __attribute__((always_inline)) lanes_int8 lanes_widen_bytes(const uint8_t *p) {
#if defined(__AVX2__)
    return (lanes_int8)_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
#else
    lanes_int8 r;
    for (int j = 0; j < 8; j++) r[j] = p[j];
    return r;
#endif
}

/// Asks for the cache line holding `p` ahead of its use (prefetcht0); nothing else.
static inline __attribute__((always_inline)) void intrinsics_prefetch(const void *p) {
    __builtin_prefetch(p);
}

#endif
