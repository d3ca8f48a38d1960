/* libFuzzer target: the trace reader, over a whole file's bytes. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The reader takes a path; a memfd gives one without touching disk. */
    int fd = memfd_create("trace", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct npu_err err;
    struct npu_trace_reader *r;
    if (npu_trace_reader_open(path, &r, &err) == NPU_OK) {
        const struct npu_trace_header *h = npu_trace_reader_header(r);
        uint32_t burst, n;
        const uint32_t *ids;
        const float *mp;
        uint32_t prev = 0;
        while (npu_trace_reader_next(r, &burst, &n, &ids, &mp, &err) == 1) {
            if (burst != prev + 1)
                abort();
            for (uint32_t k = 0; k < n; k++)
                if (ids[k] >= h->n_neurons || (k > 0 && ids[k] <= ids[k - 1]))
                    abort();
            prev = burst;
        }
        struct npu_trace_status st;
        npu_trace_reader_status(r, &st);
        npu_trace_reader_close(r);
    }
    close(fd);
    return 0;
}
