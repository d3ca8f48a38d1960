/* npu_trace: the fire-queue trace file (format: docs/trace-format.md).
 *
 * A writer appends one record per burst as the run goes and an end record
 * when the run stops; nothing grows with the number of bursts.  A reader
 * yields the bursts in order and tells a complete trace from one cut short
 * (killed, disk full) and from a corrupt one (a checksum fails).
 */
#ifndef NPU_TRACE_H
#define NPU_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define NPU_TRACE_VERSION 1

struct npu_trace_area {
    char name[64];
    uint32_t base, count;
    uint32_t dim[3];
};

/* Everything the header holds.  Strings are owned by the struct (reader) or
 * by the caller (writer); npu_trace_header_free() frees a reader's.  A
 * writer may leave a string NULL (the line is omitted); a reader always
 * fills them, with "" for an absent one. */
struct npu_trace_header {
    uint32_t version;             /* format version of the file */
    char *program;                /* "npusim 0.1.0" */
    char *backend;                /* "cpu", "vulkan" */
    char *device;                 /* device name */
    char *network_name;
    char *network_path;
    char *scenario_path;
    uint64_t network_digest;
    uint64_t scenario_digest;     /* of the scenario file plus overrides */
    uint64_t seed;
    uint32_t n_overrides;
    char **overrides;             /* the --set arguments as given */
    uint32_t n_neurons;
    uint32_t bursts_planned;
    bool potentials;              /* membrane potentials recorded */
    uint32_t n_areas;
    struct npu_trace_area *areas;
    /* State probes: neurons whose membrane potential every burst record
     * carries (after the burst), ascending ids. */
    uint32_t n_probes;
    uint32_t *probes;
};

/* How the run ended, stored in the end record. */
enum npu_trace_end {
    NPU_TRACE_END_COMPLETE = 0,
    NPU_TRACE_END_INTERRUPTED = 1, /* SIGINT/SIGTERM: stopped between bursts */
    NPU_TRACE_END_ERROR = 2,       /* the run failed (device lost, ...) */
};

struct npu_trace_writer;

/* Creates path.  Refuses an existing file unless overwrite.  The header is
 * copied; the caller keeps ownership of hdr. */
int npu_trace_writer_open(const char *path, bool overwrite, const struct npu_trace_header *hdr,
                          struct npu_trace_writer **out, struct npu_err *err);

/* Appends burst b (must be the previous burst + 1, starting at 1).  ids
 * ascending; mp ignored (may be NULL) when the header says no potentials. */
int npu_trace_writer_burst(struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                           const uint32_t *ids, const float *mp, struct npu_err *err);

/* The same with the probes' membrane potentials after the burst
 * (hdr->n_probes values, in the order of hdr->probes); probe_mp may be NULL
 * only when the header has no probes. */
int npu_trace_writer_burst_probes(struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                                  const uint32_t *ids, const float *mp, const float *probe_mp,
                                  struct npu_err *err);

/* A burst record encoded apart from the file (npu_trace_encode), so that
 * several threads can encode a batch's bursts at once; the writer then
 * appends them in burst order (npu_trace_writer_append).  Zero-initialise;
 * the buffer is reused from one encode to the next. */
struct npu_trace_rec {
    uint8_t *buf;                 /* head and payload, len bytes */
    size_t len, cap;
    uint32_t burst, n;
};

/* Encodes burst b's record for writer w, with the checks of
 * npu_trace_writer_burst_probes except the burst's order.  Reads only w's
 * settings (none change after open), so threads may encode for one writer
 * at the same time, each into its own rec. */
int npu_trace_encode(const struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                     const uint32_t *ids, const float *mp, const float *probe_mp,
                     struct npu_trace_rec *rec, struct npu_err *err);

/* Writes an encoded record; its burst must be the previous burst + 1. */
int npu_trace_writer_append(struct npu_trace_writer *w, const struct npu_trace_rec *rec,
                            struct npu_err *err);

void npu_trace_rec_free(struct npu_trace_rec *rec);

/* Pushes buffered records to the kernel, so a killed run keeps them. */
int npu_trace_writer_flush(struct npu_trace_writer *w, struct npu_err *err);

/* Bytes written so far. */
uint64_t npu_trace_writer_bytes(const struct npu_trace_writer *w);

/* Writes the end record, flushes and closes (checking fclose).  Frees w in
 * every case.  NULL w is fine. */
int npu_trace_writer_close(struct npu_trace_writer *w, enum npu_trace_end how,
                           struct npu_err *err);

/* Closes without an end record (used when the file itself failed). */
void npu_trace_writer_abort(struct npu_trace_writer *w);

struct npu_trace_reader;

/* Opens and checks the header.  NPU_E_TRACE for a corrupt header or a
 * version this build cannot read, NPU_E_IO for a missing file. */
int npu_trace_reader_open(const char *path, struct npu_trace_reader **out, struct npu_err *err);

const struct npu_trace_header *npu_trace_reader_header(const struct npu_trace_reader *r);

/* Area index holding neuron id (bisection; the table is ascending and
 * disjoint, both checked on write and read), or hdr->n_areas if none. */
uint32_t npu_trace_area_find(const struct npu_trace_header *hdr, uint32_t id);

/* Reads the next burst.  Returns 1 with *burst, *n, *ids, *mp set (valid
 * until the next call; *mp is NULL without potentials), 0 at the end of the
 * bursts, or an error code (NPU_E_TRACE: corrupt).  A file that ends inside
 * a record, or without an end record, ends the bursts normally and is then
 * reported by npu_trace_reader_status(). */
int npu_trace_reader_next(struct npu_trace_reader *r, uint32_t *burst, uint32_t *n,
                          const uint32_t **ids, const float **mp, struct npu_err *err);

/* The probes' membrane potentials of the burst next() returned last
 * (header n_probes values), or NULL when the trace has no probes. */
const float *npu_trace_reader_probes(const struct npu_trace_reader *r);

struct npu_trace_status {
    bool complete;                /* an end record was found */
    enum npu_trace_end end;       /* valid when complete */
    uint32_t last_burst;          /* last complete burst read */
    uint64_t total_fires;
};

/* After next() returned 0: how the trace ended. */
void npu_trace_reader_status(const struct npu_trace_reader *r, struct npu_trace_status *st);

void npu_trace_reader_close(struct npu_trace_reader *r);

void npu_trace_header_free(struct npu_trace_header *hdr);

#endif
