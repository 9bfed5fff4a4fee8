// Latency histogram for the load generator: HDR-style log-linear buckets, fixed size, no allocation.
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>

#define HIST_BUCKETS 4096

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total, max, sum;
} hist_t;

/* HDR-style log-linear buckets: exact below 128 ns, then 64 sub-buckets per power of two (<1.6% error). */
static inline uint32_t hist_index(uint64_t v) {
  if (v < 128) return (uint32_t)v;
  uint32_t msb = 63 - (uint32_t)__builtin_clzll(v);
  uint32_t shift = msb - 6;
  uint32_t idx = 128 + (shift - 1) * 64 + (uint32_t)((v >> shift) - 64);
  return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_upper(uint32_t idx) {
  if (idx < 128) return idx;
  uint32_t shift = (idx - 128) / 64 + 1;
  uint64_t top = (idx - 128) % 64 + 64;
  return ((top + 1) << shift) - 1;
}

static inline void hist_record(hist_t *h, uint64_t v) {
  h->counts[hist_index(v)]++;
  h->total++;
  h->sum += v;
  if (v > h->max) h->max = v;
}

static uint64_t hist_quantile(const hist_t *h, double q) {
  if (h->total == 0) return 0;
  uint64_t target = (uint64_t)(q * (double)h->total + 0.999999);
  if (target < 1) target = 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= target) return hist_upper(i) < h->max ? hist_upper(i) : h->max;
  }
  return h->max;
}

#endif
