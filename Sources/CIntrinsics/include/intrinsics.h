#ifndef INTRINSICS_H
#define INTRINSICS_H

// Instructions Swift cannot spell (or does not inline): for `listWindows`'s compaction
// (Sources/Kernels/Convolution.swift) a lane permutation, a lane mask's sign bits and 8 bytes
// widened to 8 integers; 8x8 transposes for C3's pooled forward pass, which finds a window's
// maxima for 16 filters at once and writes them to 16 planes (PooledConvolution.swift), and for
// C5's columns (`transpose` in Convolution.swift); and a prefetch for the shuffled images a
// batch reads. Inlined into the Swift that calls them, as one instruction each (a
// transpose: 24) on AVX2, plain loops elsewhere.

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

#if defined(__AVX2__)
/// The 8x8 transpose of 8 rows of 8 floats: column r of `rows` is row r of the result.
static inline __attribute__((always_inline)) void lanes_transpose8_registers(__m256 rows[8], __m256 columns[8]) {
    __m256 t[8], s[8];
    for (int q = 0; q < 8; q += 2) {
        t[q] = _mm256_unpacklo_ps(rows[q], rows[q + 1]);
        t[q + 1] = _mm256_unpackhi_ps(rows[q], rows[q + 1]);
    }
    for (int q = 0; q < 8; q += 4) {
        s[q] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int r = 0; r < 4; r++) {
        columns[r] = _mm256_permute2f128_ps(s[r], s[r + 4], 0x20);
        columns[r + 4] = _mm256_permute2f128_ps(s[r], s[r + 4], 0x31);
    }
}
#endif

/// target[r * targetStride + q] = source[q * sourceStride + r] for q and r in 0..<8: 8 floats of 8
/// rows out as 8 rows of 8 (an 8x8 transpose in registers).
static inline __attribute__((always_inline)) void lanes_transpose8(
    const float *source, long sourceStride, float *target, long targetStride) {
#if defined(__AVX2__)
    __m256 in[8], out[8];
    for (int q = 0; q < 8; q++) in[q] = _mm256_loadu_ps(source + q * sourceStride);
    lanes_transpose8_registers(in, out);
    for (int r = 0; r < 8; r++) _mm256_storeu_ps(target + r * targetStride, out[r]);
#else
    for (int r = 0; r < 8; r++)
        for (int q = 0; q < 8; q++) target[r * targetStride + q] = source[q * sourceStride + r];
#endif
}

/// `lanes_transpose8` on 32-bit integers from 0 to 255, each written out as one byte.
static inline __attribute__((always_inline)) void lanes_transpose8_bytes(
    const int32_t *source, long sourceStride, uint8_t *target, long targetStride) {
#if defined(__AVX2__)
    __m256 in[8], out[8];
    for (int q = 0; q < 8; q++) in[q] = _mm256_loadu_ps((const float *)(source + q * sourceStride));
    lanes_transpose8_registers(in, out);
    for (int r = 0; r < 8; r++) {
        __m256i v = _mm256_castps_si256(out[r]);
        __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(target + r * targetStride), _mm_packus_epi16(words, words));
    }
#else
    for (int r = 0; r < 8; r++)
        for (int q = 0; q < 8; q++) target[r * targetStride + q] = (uint8_t)source[q * sourceStride + r];
#endif
}

/// Asks for the cache line holding `p` ahead of its use (prefetcht0); nothing else.
static inline __attribute__((always_inline)) void intrinsics_prefetch(const void *p) {
    __builtin_prefetch(p);
}

#endif
