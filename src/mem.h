/* mem: a hint for the few very large arrays (synapse rows, their build
 * buffers).  Touching hundreds of MiB in 4 KiB pages is a page fault per
 * page, and on a virtual machine a fault is expensive: at 1M neurons and
 * 100M synapses the faults were a third of the network build. */
#ifndef NPU_MEM_H
#define NPU_MEM_H

#include <stddef.h>

/* Asks the kernel to back the untouched, 2 MiB-aligned interior of the
 * malloc'ed block [p, p + bytes) with transparent huge pages.  Only a hint:
 * it does nothing for small blocks, where THP is off, or on failure, and
 * the block is still released with free(). */
void npu_mem_huge(void *p, size_t bytes);

#endif
