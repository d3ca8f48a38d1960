/* npu_sonata: SONATA spike reports through the HDF5 C library. */
#include "sonata.h"

#include <stdlib.h>
#include <string.h>

#include "npu_config.h"

#if NPU_HAVE_HDF5

#include <hdf5.h>

/* Spikes buffered per population before they are appended; also the HDF5
 * chunk length, so every append fills whole chunks but the last. */
#define CHUNK_SPIKES 16384

enum sorting { SORTING_NONE = 0, SORTING_BY_ID = 1, SORTING_BY_TIME = 2 };

struct pop {
    char *name;
    hid_t group, ts, ids;         /* ts, ids: -1 until the first write */
    bool growing;                 /* chunked and extended by appends */
    hsize_t written;
    size_t n;                     /* buffered */
    double *t;                    /* CHUNK_SPIKES each, allocated on first use */
    uint64_t *id;
};

struct npu_sonata_writer {
    char *path;
    hid_t file, spikes;
    uint32_t n_pops;
    struct pop *pops;
    double last_t;
};

bool npu_sonata_available(struct npu_err *err)
{
    (void)err;
    return true;
}

/* The most specific message on HDF5's error stack (walked upward, the first
 * entry is the innermost). */
static herr_t first_desc(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc)
        snprintf(data, 256, "%s", e->desc);
    return 0;
}

static int h5fail(struct npu_err *err, const char *path, const char *call)
{
    char why[256] = "no detail";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_desc, why);
    H5Eclear2(H5E_DEFAULT);
    return npu_err_set(err, NPU_E_IO, "%s: HDF5 %s failed: %s", path, call, why);
}

static int attr_write(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, hid_t space,
                      const void *value)
{
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return -1;
    herr_t w = H5Awrite(a, mem_type, value);
    herr_t c = H5Aclose(a);
    return w < 0 || c < 0 ? -1 : 0;
}

static int root_attrs(hid_t file)
{
    const uint32_t magic = NPU_SONATA_MAGIC;
    const uint32_t version[2] = { 0, 1 };
    const hsize_t two = 2;
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t pair = H5Screate_simple(1, &two, NULL);
    int rc = scalar < 0 || pair < 0 ? -1 : 0;
    if (!rc)
        rc = attr_write(file, "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, scalar, &magic);
    if (!rc)
        rc = attr_write(file, "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, pair, version);
    if (scalar >= 0)
        H5Sclose(scalar);
    if (pair >= 0)
        H5Sclose(pair);
    return rc;
}

static int sorting_attr(hid_t group)
{
    static const struct { const char *name; int8_t v; } values[] = {
        { "none", SORTING_NONE }, { "by_id", SORTING_BY_ID }, { "by_time", SORTING_BY_TIME },
    };
    const int8_t by_time = SORTING_BY_TIME;
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    hid_t scalar = H5Screate(H5S_SCALAR);
    int rc = t < 0 || scalar < 0 ? -1 : 0;
    for (size_t i = 0; !rc && i < sizeof(values) / sizeof(values[0]); i++)
        rc = H5Tenum_insert(t, values[i].name, &values[i].v) < 0 ? -1 : 0;
    if (!rc)
        rc = attr_write(group, "sorting", t, t, scalar, &by_time);
    if (t >= 0)
        H5Tclose(t);
    if (scalar >= 0)
        H5Sclose(scalar);
    return rc;
}

static int units_attr(hid_t dset, const char *units)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t scalar = H5Screate(H5S_SCALAR);
    int rc = t < 0 || scalar < 0 || H5Tset_size(t, H5T_VARIABLE) < 0
             || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ? -1 : 0;
    if (!rc)
        rc = attr_write(dset, "units", t, t, scalar, &units);
    if (t >= 0)
        H5Tclose(t);
    if (scalar >= 0)
        H5Sclose(scalar);
    return rc;
}

/* A 1-D dataset: of exactly n values when the population's spikes all fit
 * one buffer (a small file), else empty and growing by appends in chunks. */
static hid_t new_dataset(hid_t group, const char *name, hid_t type, bool growing, hsize_t n)
{
    const hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = CHUNK_SPIKES;
    hid_t space = growing ? H5Screate_simple(1, &zero, &unlimited) : H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && (!growing || H5Pset_chunk(dcpl, 1, &chunk) >= 0))
        d = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return d;
}

static int append(hid_t d, bool growing, hid_t mem_type, hsize_t at, hsize_t n, const void *buf)
{
    hsize_t size = at + n;
    if (n == 0)
        return 0;
    if (growing && H5Dset_extent(d, &size) < 0)
        return -1;
    hid_t file_space = H5Dget_space(d);
    hid_t mem_space = H5Screate_simple(1, &n, NULL);
    int rc = file_space < 0 || mem_space < 0 ? -1 : 0;
    if (!rc)
        rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &at, NULL, &n, NULL) < 0 ? -1 : 0;
    if (!rc)
        rc = H5Dwrite(d, mem_type, mem_space, file_space, H5P_DEFAULT, buf) < 0 ? -1 : 0;
    if (file_space >= 0)
        H5Sclose(file_space);
    if (mem_space >= 0)
        H5Sclose(mem_space);
    return rc;
}

static int datasets_create(struct pop *p, bool growing)
{
    p->growing = growing;
    p->ts = new_dataset(p->group, "timestamps", H5T_IEEE_F64LE, growing, p->n);
    p->ids = new_dataset(p->group, "node_ids", H5T_STD_U64LE, growing, p->n);
    return p->ts < 0 || p->ids < 0 || units_attr(p->ts, "ms") < 0 ? -1 : 0;
}

/* Writes the buffer; the datasets are made on the first write, so that
 * a population with few spikes gets a dataset of its exact size. */
static int pop_flush(struct npu_sonata_writer *w, struct pop *p, bool last, struct npu_err *err)
{
    if (p->ts < 0 && datasets_create(p, !last) < 0)
        return h5fail(err, w->path, "dataset create");
    if (append(p->ts, p->growing, H5T_NATIVE_DOUBLE, p->written, p->n, p->t) < 0
        || append(p->ids, p->growing, H5T_NATIVE_UINT64, p->written, p->n, p->id) < 0)
        return h5fail(err, w->path, "write");
    p->written += p->n;
    p->n = 0;
    return NPU_OK;
}

static int pop_create(struct npu_sonata_writer *w, struct pop *p, hid_t lcpl)
{
    p->group = H5Gcreate2(w->spikes, p->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    return p->group < 0 || sorting_attr(p->group) < 0 ? -1 : 0;
}

/* Closes every handle; returns -1 if HDF5 reported a failure (the file
 * close is where buffered data reaches the disk). */
static int release(struct npu_sonata_writer *w)
{
    int rc = 0;
    for (uint32_t i = 0; w->pops && i < w->n_pops; i++) {
        struct pop *p = &w->pops[i];
        if (p->ts >= 0 && H5Dclose(p->ts) < 0)
            rc = -1;
        if (p->ids >= 0 && H5Dclose(p->ids) < 0)
            rc = -1;
        if (p->group >= 0 && H5Gclose(p->group) < 0)
            rc = -1;
        free(p->name);
        free(p->t);
        free(p->id);
    }
    if (w->spikes >= 0 && H5Gclose(w->spikes) < 0)
        rc = -1;
    if (w->file >= 0 && H5Fclose(w->file) < 0)
        rc = -1;
    free(w->pops);
    free(w->path);
    free(w);
    return rc;
}

int npu_sonata_open(const char *path, uint32_t n_pops, const char *const *names,
                    struct npu_sonata_writer **out, struct npu_err *err)
{
    *out = NULL;
    /* Errors are reported through npu_err, never printed by the library. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct npu_sonata_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    w->file = w->spikes = -1;
    w->path = strdup(path);
    w->pops = calloc(n_pops ? n_pops : 1, sizeof(*w->pops));
    if (!w->path || !w->pops) {
        release(w);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    w->n_pops = n_pops;
    for (uint32_t i = 0; i < n_pops; i++) {
        struct pop *p = &w->pops[i];
        p->group = p->ts = p->ids = -1;
        if (!(p->name = strdup(names[i]))) {
            release(w);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        }
        for (char *c = p->name; *c; c++)
            if (*c == '/')
                *c = '_';
        if (!*p->name || strcmp(p->name, ".") == 0 || strcmp(p->name, "..") == 0) {
            release(w);
            return npu_err_set(err, NPU_E_INPUT, "population name '%s' cannot be an HDF5 group",
                               names[i]);
        }
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(w->pops[k].name, p->name) == 0) {
                int rc = npu_err_set(err, NPU_E_INPUT, "populations '%s' and '%s' would both be "
                                     "written as /spikes/%s", names[k], names[i], p->name);
                release(w);
                return rc;
            }
    }

    w->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        int rc = h5fail(err, path, "create");
        release(w);
        return rc;
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    int bad = lcpl < 0 || H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0 || root_attrs(w->file) < 0;
    if (!bad)
        bad = (w->spikes = H5Gcreate2(w->file, "spikes", lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0;
    for (uint32_t i = 0; !bad && i < n_pops; i++)
        bad = pop_create(w, &w->pops[i], lcpl) < 0;
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (bad) {
        int rc = h5fail(err, path, "file layout");
        release(w);
        return rc;
    }
    *out = w;
    return NPU_OK;
}

int npu_sonata_add(struct npu_sonata_writer *w, uint32_t pop, double t, uint64_t node_id,
                   struct npu_err *err)
{
    if (pop >= w->n_pops || t < w->last_t)
        return npu_err_set(err, NPU_E_INTERNAL, "sonata: spike out of order or of no population");
    struct pop *p = &w->pops[pop];
    if (!p->t) {
        p->t = malloc(CHUNK_SPIKES * sizeof(*p->t));
        p->id = malloc(CHUNK_SPIKES * sizeof(*p->id));
        if (!p->t || !p->id)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    p->t[p->n] = t;
    p->id[p->n] = node_id;
    w->last_t = t;
    if (++p->n == CHUNK_SPIKES)
        return pop_flush(w, p, false, err);
    return NPU_OK;
}

int npu_sonata_close(struct npu_sonata_writer *w, struct npu_err *err)
{
    if (!w)
        return NPU_OK;
    int rc = NPU_OK;
    for (uint32_t i = 0; !rc && i < w->n_pops; i++)
        rc = pop_flush(w, &w->pops[i], true, err);
    char *path = strdup(w->path);
    if (release(w) < 0 && !rc)
        rc = h5fail(err, path ? path : "sonata", "close");
    free(path);
    return rc;
}

void npu_sonata_abort(struct npu_sonata_writer *w)
{
    if (w)
        release(w);
    H5Eclear2(H5E_DEFAULT);
}

#else /* !NPU_HAVE_HDF5 */

bool npu_sonata_available(struct npu_err *err)
{
    npu_err_set(err, NPU_E_USAGE,
                "this build of npusim has no HDF5 support, so it cannot write SONATA; "
                "install libhdf5-dev and rebuild (meson setup --reconfigure build -Dhdf5=enabled)");
    return false;
}

int npu_sonata_open(const char *path, uint32_t n_pops, const char *const *names,
                    struct npu_sonata_writer **out, struct npu_err *err)
{
    (void)path;
    (void)n_pops;
    (void)names;
    *out = NULL;
    npu_sonata_available(err);
    return NPU_E_USAGE;
}

int npu_sonata_add(struct npu_sonata_writer *w, uint32_t pop, double t, uint64_t node_id,
                   struct npu_err *err)
{
    (void)w;
    (void)pop;
    (void)t;
    (void)node_id;
    return npu_err_set(err, NPU_E_INTERNAL, "sonata: no HDF5 support");
}

int npu_sonata_close(struct npu_sonata_writer *w, struct npu_err *err)
{
    (void)w;
    (void)err;
    return NPU_OK;
}

void npu_sonata_abort(struct npu_sonata_writer *w)
{
    (void)w;
}

#endif
