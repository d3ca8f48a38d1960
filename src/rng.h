/* npu_rng: counter-based randomness.  Every random choice is a pure function
 * of (seed, stream, counters), so a network or a stimulus pattern is the
 * same on every machine, in every thread count, in every order of work. */
#ifndef NPU_RNG_H
#define NPU_RNG_H

#include <math.h>
#include <stdint.h>

/* splitmix64's finaliser: a bijective, well-mixed 64-bit hash. */
static inline uint64_t npu_rng_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static inline uint64_t npu_rng_hash4(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = npu_rng_mix(seed + UINT64_C(0x9e3779b97f4a7c15));
    h = npu_rng_mix(h ^ a);
    h = npu_rng_mix(h ^ b);
    return npu_rng_mix(h ^ c);
}

/* Uniform integer in [0, n) from a hash: the high 32 bits scaled, which is
 * unbiased enough for n far below 2^32 and exact to reproduce. */
static inline uint32_t npu_rng_below(uint64_t h, uint32_t n)
{
    return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

/* Uniform double in (0, 1]: 53 random bits, never 0 so log() is finite. */
static inline double npu_rng_unit(uint64_t h)
{
    return ((double)(h >> 11) + 1.0) * 0x1p-53;
}

/* Natural log from +, -, *, / only, so it gives the same bits everywhere
 * (libm's log may differ in the last bit between machines, and a random
 * network must not).  x must be finite and > 0. */
static inline double npu_rng_log(double x)
{
    int e;
    double m = frexp(x, &e);          /* exact: x = m * 2^e, m in [0.5, 1) */
    if (m < 0.70710678118654752440) { /* move m into [sqrt(1/2), sqrt(2)) */
        m *= 2.0;
        e -= 1;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z;
    double term = z, sum = 0.0;
    for (int k = 1; k < 60; k += 2) {  /* |z| <= 0.172: 2*atanh(z) converges fast */
        double add = term / (double)k;
        if (sum + add == sum)
            break;
        sum += add;
        term *= z2;
    }
    return 2.0 * sum + (double)e * 0.69314718055994530942;
}

#endif
