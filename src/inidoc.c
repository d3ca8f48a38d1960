#include "inidoc.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "utf8.h"

/* State shared by the line reader and the inih handler: the reader sees
 * every line (so it counts them and sees section headers, which inih does
 * not report), the handler sees the parsed key/value pairs. */
struct parse {
    struct npu_ini *ini;
    const char *p, *end;
    int line;
    struct npu_ini_section *cur;
    struct npu_err *err;
    int rc;
};

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

struct npu_ini_section *npu_ini_section(struct npu_ini *ini, const char *name)
{
    for (size_t i = 0; i < ini->n_sec; i++)
        if (strcmp(ini->sec[i].name, name) == 0)
            return &ini->sec[i];
    return NULL;
}

static struct npu_ini_section *add_section(struct npu_ini *ini, const char *name, int line)
{
    if (ini->n_sec == ini->cap_sec) {
        size_t cap = ini->cap_sec ? ini->cap_sec * 2 : 16;
        struct npu_ini_section *s = realloc(ini->sec, cap * sizeof(*s));
        if (!s)
            return NULL;
        ini->sec = s;
        ini->cap_sec = cap;
    }
    struct npu_ini_section *s = &ini->sec[ini->n_sec];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(name);
    if (!s->name)
        return NULL;
    s->line = line;
    ini->n_sec++;
    return s;
}

static struct npu_ini_kv *find_kv(struct npu_ini_section *sec, const char *key)
{
    for (size_t i = 0; i < sec->n_kv; i++)
        if (strcmp(sec->kv[i].key, key) == 0)
            return &sec->kv[i];
    return NULL;
}

static struct npu_ini_kv *add_kv(struct npu_ini_section *sec, const char *key, const char *value,
                                 int line, const char *origin)
{
    if (sec->n_kv == sec->cap_kv) {
        size_t cap = sec->cap_kv ? sec->cap_kv * 2 : 8;
        struct npu_ini_kv *kv = realloc(sec->kv, cap * sizeof(*kv));
        if (!kv)
            return NULL;
        sec->kv = kv;
        sec->cap_kv = cap;
    }
    struct npu_ini_kv *kv = &sec->kv[sec->n_kv];
    memset(kv, 0, sizeof(*kv));
    kv->key = xstrdup(key);
    kv->value = xstrdup(value);
    kv->origin = origin ? xstrdup(origin) : NULL;
    kv->line = line;
    if (!kv->key || !kv->value || (origin && !kv->origin)) {
        free(kv->key);
        free(kv->value);
        free(kv->origin);
        return NULL;
    }
    sec->n_kv++;
    return kv;
}

static int fail_at(struct parse *ps, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct parse *ps, int code, const char *fmt, ...)
{
    if (ps->rc)
        return ps->rc;  /* keep the first error */
    char msg[NPU_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ps->rc = npu_err_set(ps->err, code, "%s:%d: %s", ps->ini->path, ps->line, msg);
    return ps->rc;
}

/* Looks at a raw line for a section header, the one thing inih does not
 * report; duplicate names are an error here because a second [area x]
 * silently merging into the first would hide a mistake. */
static void see_line(struct parse *ps, char *line)
{
    char *s = trim(line);
    if (*s != '[')
        return;
    char *close = strchr(s, ']');
    if (!close)
        return;  /* inih reports the syntax error */
    *close = '\0';
    char *name = trim(s + 1);
    if (!*name) {
        fail_at(ps, NPU_E_INPUT, "empty section name");
        return;
    }
    if (npu_ini_section(ps->ini, name)) {
        struct npu_ini_section *first = npu_ini_section(ps->ini, name);
        fail_at(ps, NPU_E_INPUT, "duplicate section [%s] (first at line %d)", name, first->line);
        return;
    }
    ps->cur = add_section(ps->ini, name, ps->line);
    if (!ps->cur)
        fail_at(ps, NPU_E_RESOURCE, "out of memory");
}

static char *reader(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    if (ps->p >= ps->end || ps->rc)
        return NULL;
    const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
    size_t len = nl ? (size_t)(nl - ps->p) + 1 : (size_t)(ps->end - ps->p);
    ps->line++;
    if (len + 1 > (size_t)num || len > NPU_INI_MAX_LINE) {
        fail_at(ps, NPU_E_INPUT, "line longer than %d bytes", NPU_INI_MAX_LINE);
        return NULL;
    }
    memcpy(str, ps->p, len);
    str[len] = '\0';
    ps->p += len;

    char copy[NPU_INI_MAX_LINE + 1];
    memcpy(copy, str, len + 1);
    see_line(ps, copy);
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    (void)section;  /* inih truncates long names; the reader's section is exact */
    if (ps->rc)
        return 0;
    if (!ps->cur) {
        fail_at(ps, NPU_E_INPUT, "'%s' appears before any [section]", name);
        return 0;
    }
    if (!*name) {
        fail_at(ps, NPU_E_INPUT, "empty key name");
        return 0;
    }
    struct npu_ini_kv *prev = find_kv(ps->cur, name);
    if (prev) {
        fail_at(ps, NPU_E_INPUT, "duplicate key '%s' in [%s] (first at line %d)", name,
                ps->cur->name, prev->line);
        return 0;
    }
    if (!add_kv(ps->cur, name, value, ps->line, NULL)) {
        fail_at(ps, NPU_E_RESOURCE, "out of memory");
        return 0;
    }
    return 1;
}

static int check_bytes(struct parse *ps)
{
    const unsigned char *s = (const unsigned char *)ps->p, *end = (const unsigned char *)ps->end;
    int line = 1;
    while (s < end) {
        if (*s == '\n')
            line++;
        if (*s == '\0') {
            ps->line = line;
            return fail_at(ps, NPU_E_INPUT, "NUL byte: this is not a text file");
        }
        int n = npu_utf8_len(s, (size_t)(end - s));
        if (n == 0) {
            ps->line = line;
            return fail_at(ps, NPU_E_INPUT, "invalid UTF-8 byte 0x%02x", *s);
        }
        s += n;
    }
    return NPU_OK;
}

static int init_ini(struct npu_ini **out, const char *path, struct npu_err *err)
{
    struct npu_ini *ini = calloc(1, sizeof(*ini));
    if (!ini)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    ini->path = xstrdup(path);
    const char *slash = strrchr(path, '/');
    ini->dir = slash ? strndup(path, (size_t)(slash - path) + 1) : xstrdup("");
    if (!ini->path || !ini->dir) {
        npu_ini_free(ini);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    *out = ini;
    return NPU_OK;
}

int npu_ini_load_string(const char *name, const char *text, size_t len, struct npu_ini **out,
                        struct npu_err *err)
{
    *out = NULL;
    struct npu_ini *ini = NULL;
    int rc = init_ini(&ini, name, err);
    if (rc)
        return rc;
    ini->digest = XXH3_64bits(text, len);

    struct parse ps = { .ini = ini, .p = text, .end = text + len, .err = err };
    /* A UTF-8 byte order mark is harmless; skip it like inih would. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        ps.p += 3;
    rc = check_bytes(&ps);
    if (!rc) {
        ini_allow_multiline = false;   /* a continuation line is more likely a typo */
        ini_allow_bom = false;
        ini_use_stack = false;
        ini_allow_realloc = false;
        /* Without realloc inih's heap buffer is ini_initial_alloc bytes
         * (200 by default), whatever ini_max_line says: both must be set, or
         * any line over 199 bytes fails as "longer than 65536 bytes". */
        ini_initial_alloc = NPU_INI_MAX_LINE + 2;
        ini_max_line = NPU_INI_MAX_LINE + 2;
        ini_stop_on_first_error = true;
        int line = ini_parse_stream(reader, &ps, handler, &ps);
        rc = ps.rc;
        if (!rc && line > 0) {
            ps.line = line;
            rc = fail_at(&ps, NPU_E_INPUT, "syntax error: expected `key = value` or `[section]`");
        } else if (!rc && line < 0) {
            rc = npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory while parsing", name);
        }
    }
    if (rc) {
        npu_ini_free(ini);
        return rc;
    }
    *out = ini;
    return NPU_OK;
}

int npu_ini_load(const char *path, struct npu_ini **out, struct npu_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return npu_err_set(err, NPU_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return npu_err_set(err, NPU_E_IO, "%s: not a regular file", path);
    }
    if (st.st_size > (off_t)NPU_INI_MAX_FILE) {
        fclose(f);
        return npu_err_set(err, NPU_E_INPUT, "%s: %lld bytes is too large for an INI file (limit %u MiB)",
                           path, (long long)st.st_size, NPU_INI_MAX_FILE >> 20);
    }
    size_t len = (size_t)st.st_size;
    char *text = malloc(len + 1);
    if (!text) {
        fclose(f);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    size_t got = fread(text, 1, len, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != len) {
        free(text);
        return npu_err_set(err, NPU_E_IO, "%s: read error", path);
    }
    text[len] = '\0';
    int rc = npu_ini_load_string(path, text, len, out, err);
    free(text);
    return rc;
}

int npu_ini_set(struct npu_ini *ini, const char *section, const char *key, const char *value,
                const char *origin, struct npu_err *err)
{
    struct npu_ini_section *sec = npu_ini_section(ini, section);
    /* A named section ([area x], [stimulus y]) that the file lacks is far
     * more likely a typo than a wish to build one key by key. */
    if (!sec && strchr(section, ' '))
        return npu_err_set(err, NPU_E_INPUT, "--set %s: %s has no section [%s]", origin, ini->path,
                           section);
    if (!sec)
        sec = add_section(ini, section, 0);
    if (!sec)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    struct npu_ini_kv *kv = find_kv(sec, key);
    if (kv) {
        char *v = xstrdup(value), *o = xstrdup(origin);
        if (!v || !o) {
            free(v);
            free(o);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        }
        free(kv->value);
        free(kv->origin);
        kv->value = v;
        kv->origin = o;
        kv->line = 0;
    } else if (!add_kv(sec, key, value, 0, origin)) {
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    ini->digest = XXH3_64bits_withSeed(origin, strlen(origin), ini->digest);
    return NPU_OK;
}

struct npu_ini_kv *npu_ini_get(struct npu_ini_section *sec, const char *key)
{
    struct npu_ini_kv *kv = sec ? find_kv(sec, key) : NULL;
    if (kv)
        kv->used = true;
    return kv;
}

void npu_ini_where(const struct npu_ini *ini, const struct npu_ini_section *sec,
                   const struct npu_ini_kv *kv, char *buf, size_t len)
{
    if (kv && kv->line == 0)
        snprintf(buf, len, "--set %s", kv->origin);
    else if (kv)
        snprintf(buf, len, "%s:%d", ini->path, kv->line);
    else if (sec && sec->line > 0)
        snprintf(buf, len, "%s:%d", ini->path, sec->line);
    else if (sec && sec->n_kv > 0 && sec->kv[0].origin)
        snprintf(buf, len, "--set %s", sec->kv[0].origin);  /* the --set that made the section */
    else if (sec)
        snprintf(buf, len, "%s: [%s] (from --set)", ini->path, sec->name);
    else
        snprintf(buf, len, "%s", ini->path);
}

int npu_ini_error(struct npu_err *err, const struct npu_ini *ini, const struct npu_ini_section *sec,
                  const struct npu_ini_kv *kv, const char *fmt, ...)
{
    char where[512], msg[NPU_ERR_MSG_MAX];
    npu_ini_where(ini, sec, kv, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return npu_err_set(err, NPU_E_INPUT, "%s: %s", where, msg);
}

int npu_ini_check_unused(const struct npu_ini *ini, struct npu_err *err)
{
    for (size_t i = 0; i < ini->n_sec; i++) {
        const struct npu_ini_section *s = &ini->sec[i];
        if (!s->used)
            return npu_ini_error(err, ini, s, NULL, "unknown section [%s]", s->name);
        for (size_t k = 0; k < s->n_kv; k++)
            if (!s->kv[k].used)
                return npu_ini_error(err, ini, s, &s->kv[k], "unknown key '%s' in [%s]",
                                     s->kv[k].key, s->name);
    }
    return NPU_OK;
}

void npu_ini_free(struct npu_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n_sec; i++) {
        for (size_t k = 0; k < ini->sec[i].n_kv; k++) {
            free(ini->sec[i].kv[k].key);
            free(ini->sec[i].kv[k].value);
            free(ini->sec[i].kv[k].origin);
        }
        free(ini->sec[i].kv);
        free(ini->sec[i].name);
    }
    free(ini->sec);
    free(ini->path);
    free(ini->dir);
    free(ini);
}

int npu_ini_split_override(const char *arg, char *buf, size_t buflen, const char **section,
                           const char **key, const char **value, struct npu_err *err)
{
    size_t n = strlen(arg);
    if (n + 1 > buflen)
        return npu_err_set(err, NPU_E_USAGE, "--set %s: too long", arg);
    memcpy(buf, arg, n + 1);
    char *eq = strchr(buf, '=');
    if (!eq)
        return npu_err_set(err, NPU_E_USAGE, "--set %s: expected SECTION.KEY=VALUE", arg);
    *eq = '\0';
    char *dot = strrchr(buf, '.');
    if (!dot)
        return npu_err_set(err, NPU_E_USAGE,
                           "--set %s: expected SECTION.KEY=VALUE (no '.' before '=')", arg);
    *dot = '\0';
    char *s = trim(buf), *k = trim(dot + 1), *v = trim(eq + 1);
    if (!*s || !*k)
        return npu_err_set(err, NPU_E_USAGE, "--set %s: empty section or key", arg);
    *section = s;
    *key = k;
    *value = v;
    return NPU_OK;
}

int npu_ini_apply(struct npu_ini *ini, const struct npu_override *ov, size_t n, struct npu_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = npu_ini_set(ini, ov[i].section, ov[i].key, ov[i].value, ov[i].origin, err);
        if (rc)
            return rc;
    }
    return NPU_OK;
}
