/* npu_jsonw: a small streaming JSON writer for the --json outputs.
 * It writes one value at a time and inserts commas itself; strings are
 * escaped (control characters, quotes, backslashes; bytes >= 0x80 that are
 * not valid UTF-8 become U+FFFD) so any path or name makes valid JSON. */
#ifndef NPU_JSONW_H
#define NPU_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define NPU_JSONW_DEPTH 16

struct npu_jsonw {
    FILE *f;
    int depth;
    bool first[NPU_JSONW_DEPTH];
    bool after_key;
};

void npu_jsonw_init(struct npu_jsonw *j, FILE *f);
void npu_jsonw_obj_begin(struct npu_jsonw *j);
void npu_jsonw_obj_end(struct npu_jsonw *j);
void npu_jsonw_arr_begin(struct npu_jsonw *j);
void npu_jsonw_arr_end(struct npu_jsonw *j);
void npu_jsonw_key(struct npu_jsonw *j, const char *key);
void npu_jsonw_str(struct npu_jsonw *j, const char *s);   /* NULL writes null */
void npu_jsonw_u64(struct npu_jsonw *j, uint64_t v);
void npu_jsonw_i64(struct npu_jsonw *j, int64_t v);
void npu_jsonw_f64(struct npu_jsonw *j, double v);        /* non-finite writes null */
void npu_jsonw_bool(struct npu_jsonw *j, bool v);
void npu_jsonw_null(struct npu_jsonw *j);
/* Ends the top-level value with a newline. */
void npu_jsonw_end(struct npu_jsonw *j);

#endif
