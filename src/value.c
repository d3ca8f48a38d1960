#include "value.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WHY(...) (snprintf(why, NPU_WHY_MAX, __VA_ARGS__), -1)

int npu_value_bool(const char *s, bool *out, char *why)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return WHY("'%s' is not a boolean (true/false)", s);
}

int npu_value_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
    if (*s == '-')
        return WHY("'%s' is negative; expected an integer in %llu..%llu", s,
                   (unsigned long long)min, (unsigned long long)max);
    if (*s < '0' || *s > '9')
        return WHY("'%s' is not an integer", s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return WHY("'%s' is not an integer", s);
    if (errno == ERANGE || v < min || v > max)
        return WHY("%s is out of range %llu..%llu", s, (unsigned long long)min,
                   (unsigned long long)max);
    *out = v;
    return 0;
}

int npu_value_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *why)
{
    uint64_t v;
    if (npu_value_u64(s, min, max, &v, why))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Shared by f32/f64: the text must be one finite decimal number. */
static int check_number(const char *s, const char *end, int range_err, double v, char *why)
{
    if (end == s || *end)
        return WHY("'%s' is not a number", s);
    if (!isfinite(v) || (range_err && fabs(v) > 1.0))
        return WHY("'%s' is not a finite number", s);
    return 0;
}

int npu_value_f64(const char *s, double min, double max, double *out, char *why)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (check_number(s, end, errno == ERANGE, v, why))
        return -1;
    if (v < min || v > max)
        return WHY("%s is out of range [%g, %g]", s, min, max);
    *out = v;
    return 0;
}

int npu_value_f32(const char *s, double min, double max, float *out, char *why)
{
    errno = 0;
    char *end;
    float v = strtof(s, &end);
    if (check_number(s, end, errno == ERANGE, v, why))
        return -1;
    if (v < min || v > max)
        return WHY("%s is out of range [%g, %g]", s, min, max);
    *out = v;
    return 0;
}

int npu_value_size(const char *s, uint64_t max_product, uint32_t dim[3], char *why)
{
    const char *p = s;
    uint64_t product = 1;
    for (int d = 0; d < 3; d++) {
        if (*p == '-')
            return WHY("size '%s' has a negative dimension", s);
        if (*p < '0' || *p > '9')
            return WHY("size '%s' is not XxYxZ (three positive integers)", s);
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v > UINT32_MAX)
            return WHY("size '%s': dimension %d is too large", s, d + 1);
        if (v == 0)
            return WHY("size '%s': dimension %d is 0 (an area needs at least one neuron)", s, d + 1);
        dim[d] = (uint32_t)v;
        product *= v;  /* each factor < 2^32 and product checked below, so no overflow */
        if (product > max_product)
            return WHY("size '%s' has more than %llu neurons", s, (unsigned long long)max_product);
        p = end;
        if (d < 2) {
            if (*p != 'x' && *p != 'X')
                return WHY("size '%s' is not XxYxZ (three positive integers)", s);
            p++;
        }
    }
    if (*p)
        return WHY("size '%s' is not XxYxZ (three positive integers)", s);
    return 0;
}

int npu_value_bytes(const char *s, uint64_t *out, char *why)
{
    if (*s < '0' || *s > '9')
        return WHY("'%s' is not a size (e.g. 512M, 8G)", s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return WHY("'%s' is too large", s);
    static const char units[] = "KMGT";
    int shift = 0;
    if (*end) {
        const char *u = strchr(units, *end);
        if (!u || !*end)
            return WHY("'%s': unknown unit (K, M, G or T)", s);
        shift = 10 * (int)(u - units + 1);
        end++;
        if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0 && strcmp(end, "B") != 0)
            return WHY("'%s': unknown unit (K, M, G or T)", s);
    }
    if (v == 0 || v > (UINT64_MAX >> shift))
        return WHY("'%s' is out of range", s);
    *out = (uint64_t)v << shift;
    return 0;
}

const char *npu_value_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (n < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}
