/* npu_utf8: the UTF-8 check shared by the INI reader (which rejects invalid
 * text) and the JSON writer (which replaces it). */
#ifndef NPU_UTF8_H
#define NPU_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid, shortest-form UTF-8 sequence at s, looking at
 * no more than avail bytes; 0 when the bytes are not valid UTF-8. */
int npu_utf8_len(const unsigned char *s, size_t avail);

#endif
