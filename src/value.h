/* npu_value: strict parsers for the values of INI keys and --set.  Each
 * takes the whole string (surrounding blanks already trimmed by inih) and
 * fails on trailing junk, overflow, NaN and infinities; on failure it writes
 * why into why[] for the caller to put behind FILE:LINE. */
#ifndef NPU_VALUE_H
#define NPU_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NPU_WHY_MAX 256

int npu_value_bool(const char *s, bool *out, char *why);
int npu_value_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why);
int npu_value_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *why);
/* strtof: one rounding from decimal to binary32, as SEMANTICS.md asks. */
int npu_value_f32(const char *s, double min, double max, float *out, char *why);
/* strtod, for potentials and probabilities. */
int npu_value_f64(const char *s, double min, double max, double *out, char *why);
/* A byte count: digits with an optional K, M, G or T suffix (powers of
 * 1024, "MiB" style suffixes accepted too), at least 1. */
int npu_value_bytes(const char *s, uint64_t *out, char *why);

/* Formats a byte count for messages: "812 B", "1.5 KiB", "3.2 GiB". */
const char *npu_value_fmt_bytes(uint64_t n, char *buf, size_t len);

/* "XxYxZ", each >= 1, product <= max_product. */
int npu_value_size(const char *s, uint64_t max_product, uint32_t dim[3], char *why);

#endif
