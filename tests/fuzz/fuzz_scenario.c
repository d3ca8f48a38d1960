/* libFuzzer target: the scenario loader, bound to a fixed small network,
 * and the stimulus expansion of its first bursts. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "inject.h"
#include "netload.h"
#include "scenario.h"

static const char network[] =
    "[area retina]\nsize = 4x4x2\n"
    "[area v1]\nsize = 3x1x1\npower = true\n"
    "[connect retina -> v1]\nrule = all_to_all\nweight = 1\npsp = 1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct npu_net *net;
    struct npu_err err;
    if (!net) {
        struct npu_ini *ini;
        if (npu_ini_load_string("net.ini", network, strlen(network), &ini, &err) ||
            npu_netload_ini(ini, NULL, &net, NULL, &err))
            abort();
        npu_ini_free(ini);
    }
    struct npu_ini *ini;
    if (npu_ini_load_string("fuzz.ini", (const char *)data, size, &ini, &err))
        return 0;
    struct npu_scenario *scn = NULL;
    struct npu_warnings warn = { 0 };
    if (!npu_scn_load_ini(ini, NULL, 0, &scn, &err) && !npu_scn_resolve(scn, net, &warn, &err)) {
        struct npu_inject_buf buf = { 0 };
        uint32_t first = scn->bursts > 3 ? scn->bursts - 3 : 1;
        if (npu_inject_build(scn, net, 1, 3, &buf, &err) == NPU_OK)
            for (uint32_t k = 0; k < buf.off[3]; k++)
                if (buf.id[k] >= net->n_neurons)
                    abort();
        npu_inject_build(scn, net, first, 3, &buf, &err);
        npu_inject_buf_free(&buf);
    }
    npu_warnings_free(&warn);
    npu_scn_free(scn);
    npu_ini_free(ini);
    return 0;
}
