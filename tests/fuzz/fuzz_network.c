/* libFuzzer target: the network loader, from INI text to a built network. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "netload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct npu_err err;
    struct npu_ini *ini;
    if (npu_ini_load_string("fuzz.ini", (const char *)data, size, &ini, &err))
        return 0;
    struct npu_netload_opts opts = { .max_bytes = FUZZ_MAX_BYTES };
    struct npu_net *net = NULL;
    if (npu_netload_ini(ini, &opts, &net, NULL, &err) == NPU_OK)
        fuzz_check_net(net);
    npu_net_free(net);
    npu_ini_free(ini);
    return 0;
}
