/* npu_sonata: a SONATA spike report (HDF5) written from the fires of a trace.
 *
 * The file holds, as the SONATA developer guide describes:
 *
 *   /                     attributes magic = 0x0A7A (uint32), version = [0, 1] (uint32)
 *   /spikes/<population>  one group per population; attribute sorting = by_time
 *                         (an HDF5 enum {none 0, by_id 1, by_time 2}, the one
 *                         libsonata reads)
 *     timestamps          float64, the burst number; attribute units = "ms"
 *     node_ids            uint64, the index of the neuron within its population
 *
 * Spikes must be added in time order (the order of a trace); each
 * population's spikes are buffered and appended in chunks, so memory does
 * not grow with the run.  Without HDF5 at build time (-Dhdf5=disabled, or
 * libhdf5-dev missing) npu_sonata_available() is false and open fails the
 * same way.
 */
#ifndef NPU_SONATA_H
#define NPU_SONATA_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define NPU_SONATA_MAGIC 0x0A7Au

struct npu_sonata_writer;

/* Whether this build can write SONATA files; if not, err (may be NULL) says
 * why and how to get a build that can (code NPU_E_USAGE). */
bool npu_sonata_available(struct npu_err *err);

/* Creates (truncating) path with n_pops populations named names[i] (copied;
 * a '/' in a name becomes '_').  All populations are written, empty ones
 * included.  Errors: NPU_E_USAGE without HDF5 support, NPU_E_INPUT for a
 * name that is empty, "." or "..", or two names that are the same after the '/' rule, NPU_E_IO
 * when HDF5 cannot create the file, NPU_E_RESOURCE out of memory. */
int npu_sonata_open(const char *path, uint32_t n_pops, const char *const *names,
                    struct npu_sonata_writer **out, struct npu_err *err);

/* Adds one spike of node node_id of population pop at time t.  Times must
 * not decrease (sorting = by_time).  NPU_E_IO when HDF5 fails to write. */
int npu_sonata_add(struct npu_sonata_writer *w, uint32_t pop, double t, uint64_t node_id,
                   struct npu_err *err);

/* Writes what is buffered, closes the file and frees w, in every case.
 * NULL w is fine. */
int npu_sonata_close(struct npu_sonata_writer *w, struct npu_err *err);

/* Closes without reporting errors (the caller already failed); the file is
 * left as it is.  NULL w is fine. */
void npu_sonata_abort(struct npu_sonata_writer *w);

#endif
