/* rng.h: a small random number generator with explicit state.
 *
 * No hidden global state: every consumer owns an Rng. Streams are derived from
 * a tuple (seed, a, b, c) such as (seed, trial, epoch, sample), so any part of a
 * run can be replayed without replaying what came before it (STYLE.md habit 14).
 * The generator is splitmix64 (Steele, Lea, Flood 2014): 64-bit state, passes
 * BigCrush, trivially seedable. Not cryptographic.
 */
#ifndef HIPID_RNG_H
#define HIPID_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} Rng;

/* A stream keyed by (seed, a, b, c); distinct tuples give independent streams. */
Rng rng_stream(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

uint64_t rng_u64(Rng *r);
/* Uniform float in [0,1) with 24 random bits. */
float rng_uniform(Rng *r);
/* Uniform integer in [0,n), n > 0, without modulo bias. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Standard normal (Box-Muller, one value per call). */
float rng_normal(Rng *r);
/* Fisher-Yates shuffle of an int array. */
void rng_shuffle(Rng *r, int *a, int n);

#endif
