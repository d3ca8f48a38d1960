/* npu_ini (inidoc: not to be confused with inih's ini.h): an INI file read into memory as sections of key/value pairs,
 * with the line of each, so the network and scenario interpreters can
 * report FILE:LINE and can apply --set overrides before interpreting.
 *
 * Syntax is inih's (Debian libinih): `[section]`, `key = value`, comments
 * starting with ';' or '#', inline comments after ' ;'.  On top of it this
 * module rejects what inih would accept silently: duplicate sections,
 * duplicate keys, keys before any section, NUL bytes, invalid UTF-8, and
 * lines longer than NPU_INI_MAX_LINE. */
#ifndef NPU_INIDOC_H
#define NPU_INIDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NPU_INI_MAX_LINE 65536
#define NPU_INI_MAX_FILE (64u << 20)

struct npu_ini_kv {
    char *key;
    char *value;
    int line;            /* 0 when the value came from an override */
    char *origin;        /* the --set argument, when line is 0 */
    bool used;           /* set by npu_ini_get; unused keys are unknown keys */
};

struct npu_ini_section {
    char *name;
    int line;            /* 0 when created by an override */
    bool used;
    size_t n_kv, cap_kv;
    struct npu_ini_kv *kv;
};

struct npu_ini {
    char *path;
    char *dir;           /* directory of path: relative paths inside resolve here */
    uint64_t digest;     /* XXH3 of the file bytes, then of each override */
    size_t n_sec, cap_sec;
    struct npu_ini_section *sec;
};

/* Reads and parses path.  NPU_E_IO if it cannot be read, NPU_E_INPUT with
 * "FILE:LINE: ..." for a syntax error. */
int npu_ini_load(const char *path, struct npu_ini **out, struct npu_err *err);

/* Parses text as if it were the file `name` (for tests and fuzzing). */
int npu_ini_load_string(const char *name, const char *text, size_t len,
                        struct npu_ini **out, struct npu_err *err);

/* Sets section.key = value, replacing the file's value or adding the key
 * if missing.  A missing section is added only when its name is one word
 * ([defaults], [record]); a named one ([area x]) that the file lacks is an
 * error.  origin is the override as the user wrote
 * it, used in messages. */
int npu_ini_set(struct npu_ini *ini, const char *section, const char *key, const char *value,
                const char *origin, struct npu_err *err);

struct npu_ini_section *npu_ini_section(struct npu_ini *ini, const char *name);

/* The key's entry in sec, or NULL; marks it used. */
struct npu_ini_kv *npu_ini_get(struct npu_ini_section *sec, const char *key);

/* Formats "FILE:LINE" or "--set ARG" for a key (kv may be NULL: the section). */
void npu_ini_where(const struct npu_ini *ini, const struct npu_ini_section *sec,
                   const struct npu_ini_kv *kv, char *buf, size_t len);

/* Sets err to "WHERE: message" (NPU_E_INPUT) and returns NPU_E_INPUT. */
int npu_ini_error(struct npu_err *err, const struct npu_ini *ini, const struct npu_ini_section *sec,
                  const struct npu_ini_kv *kv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The first unused section or key, reported as unknown; NPU_OK if none. */
int npu_ini_check_unused(const struct npu_ini *ini, struct npu_err *err);

void npu_ini_free(struct npu_ini *ini);

/* One --set, already split; origin is the argument as the user wrote it. */
struct npu_override {
    const char *section, *key, *value, *origin;
};

/* npu_ini_set() for each override, in order. */
int npu_ini_apply(struct npu_ini *ini, const struct npu_override *ov, size_t n, struct npu_err *err);

/* Splits "SECTION.KEY=VALUE" at the first '=' and the last '.' before it.
 * The pieces point into buf (a copy of arg). */
int npu_ini_split_override(const char *arg, char *buf, size_t buflen, const char **section,
                           const char **key, const char **value, struct npu_err *err);

#endif
