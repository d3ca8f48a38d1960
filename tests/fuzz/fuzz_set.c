/* libFuzzer target: --set arguments (one per line) applied to a small
 * network file, then the network built. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "netload.h"

#define MAX_SETS 16

static const char network[] =
    "[network]\nseed = 1\n[defaults]\nleak = 0.1\n"
    "[area a]\nsize = 4x4x1\n[area b b]\nsize = 2x2x1\n"
    "[connect a -> b b]\nrule = random\nfanout = 2\nweight = 1\npsp = 1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct npu_override ov[MAX_SETS];
    char buf[MAX_SETS][256];
    size_t n = 0;
    struct npu_err err;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < MAX_SETS; line = strtok_r(NULL, "\n", &save)) {
        if (npu_ini_split_override(line, buf[n], sizeof(buf[n]), &ov[n].section, &ov[n].key,
                                   &ov[n].value, &err) == NPU_OK) {
            ov[n].origin = line;
            n++;
        }
    }
    struct npu_ini *ini;
    if (npu_ini_load_string("net.ini", network, strlen(network), &ini, &err))
        abort();
    struct npu_netload_opts opts = { .overrides = ov, .n_overrides = n, .max_bytes = FUZZ_MAX_BYTES };
    struct npu_net *net = NULL;
    if (npu_netload_ini(ini, &opts, &net, NULL, &err) == NPU_OK)
        fuzz_check_net(net);
    npu_net_free(net);
    npu_ini_free(ini);
    free(text);
    return 0;
}
