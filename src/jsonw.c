#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "utf8.h"

void npu_jsonw_init(struct npu_jsonw *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

/* Writes the separator a new value needs at the current position. */
static void sep(struct npu_jsonw *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
}

static void open(struct npu_jsonw *j, int c)
{
    sep(j);
    fputc(c, j->f);
    if (j->depth + 1 < NPU_JSONW_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_(struct npu_jsonw *j, int c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void npu_jsonw_obj_begin(struct npu_jsonw *j) { open(j, '{'); }
void npu_jsonw_obj_end(struct npu_jsonw *j) { close_(j, '}'); }
void npu_jsonw_arr_begin(struct npu_jsonw *j) { open(j, '['); }
void npu_jsonw_arr_end(struct npu_jsonw *j) { close_(j, ']'); }

static void write_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s++, f);
        } else if (*s < 0x20) {
            fprintf(f, "\\u%04x", *s++);
        } else {
            /* NUL is not a continuation byte, so a check never reads past the end. */
            int n = npu_utf8_len(s, 4);
            if (n == 0) {
                fputs("\\ufffd", f);
                s++;
            } else {
                fwrite(s, 1, (size_t)n, f);
                s += n;
            }
        }
    }
    fputc('"', f);
}

void npu_jsonw_key(struct npu_jsonw *j, const char *key)
{
    sep(j);
    write_string(j->f, key);
    fputc(':', j->f);
    j->after_key = true;
}

void npu_jsonw_str(struct npu_jsonw *j, const char *s)
{
    if (!s) {
        npu_jsonw_null(j);
        return;
    }
    sep(j);
    write_string(j->f, s);
}

void npu_jsonw_u64(struct npu_jsonw *j, uint64_t v)
{
    sep(j);
    fprintf(j->f, "%" PRIu64, v);
}

void npu_jsonw_i64(struct npu_jsonw *j, int64_t v)
{
    sep(j);
    fprintf(j->f, "%" PRId64, v);
}

void npu_jsonw_f64(struct npu_jsonw *j, double v)
{
    if (!isfinite(v)) {
        npu_jsonw_null(j);
        return;
    }
    sep(j);
    fprintf(j->f, "%.17g", v);
}

void npu_jsonw_bool(struct npu_jsonw *j, bool v)
{
    sep(j);
    fputs(v ? "true" : "false", j->f);
}

void npu_jsonw_null(struct npu_jsonw *j)
{
    sep(j);
    fputs("null", j->f);
}

void npu_jsonw_end(struct npu_jsonw *j)
{
    fputc('\n', j->f);
}
