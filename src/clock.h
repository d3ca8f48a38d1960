/* npu_clock: the one monotonic clock used for wall-time figures. */
#ifndef NPU_CLOCK_H
#define NPU_CLOCK_H

#include <time.h>

static inline double npu_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
