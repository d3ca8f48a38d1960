/* npusim devices: the Vulkan devices and whether each can run the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "jsonw.h"
#include "vulkan/vk_devices.h"

#define API_MAJOR(v) ((v) >> 22 & 0x7fu)
#define API_MINOR(v) ((v) >> 12 & 0x3ffu)
#define API_PATCH(v) ((v) & 0xfffu)

static void print_json(const struct npu_vk_device_info *d, uint32_t n)
{
    struct npu_jsonw j;
    npu_jsonw_init(&j, stdout);
    npu_jsonw_arr_begin(&j);
    for (uint32_t i = 0; i < n; i++) {
        char api[32];
        snprintf(api, sizeof(api), "%u.%u.%u", API_MAJOR(d[i].api_version),
                 API_MINOR(d[i].api_version), API_PATCH(d[i].api_version));
        npu_jsonw_obj_begin(&j);
        npu_jsonw_key(&j, "index");
        npu_jsonw_u64(&j, d[i].index);
        npu_jsonw_key(&j, "name");
        npu_jsonw_str(&j, d[i].name);
        npu_jsonw_key(&j, "type");
        npu_jsonw_str(&j, d[i].type);
        npu_jsonw_key(&j, "driver_name");
        npu_jsonw_str(&j, d[i].driver_name);
        npu_jsonw_key(&j, "driver_info");
        npu_jsonw_str(&j, d[i].driver_info);
        npu_jsonw_key(&j, "driver_version");
        npu_jsonw_u64(&j, d[i].driver_version);
        npu_jsonw_key(&j, "api_version");
        npu_jsonw_str(&j, api);
        npu_jsonw_key(&j, "heaps");
        npu_jsonw_arr_begin(&j);
        for (uint32_t h = 0; h < d[i].n_heaps; h++) {
            npu_jsonw_obj_begin(&j);
            npu_jsonw_key(&j, "bytes");
            npu_jsonw_u64(&j, d[i].heap_size[h]);
            npu_jsonw_key(&j, "device_local");
            npu_jsonw_bool(&j, d[i].heap_device_local[h]);
            npu_jsonw_obj_end(&j);
        }
        npu_jsonw_arr_end(&j);
        npu_jsonw_key(&j, "shaderInt64");
        npu_jsonw_bool(&j, d[i].int64);
        npu_jsonw_key(&j, "shaderBufferInt64Atomics");
        npu_jsonw_bool(&j, d[i].int64_atomics);
        npu_jsonw_key(&j, "shaderDenormPreserveFloat32");
        npu_jsonw_bool(&j, d[i].denorm_preserve);
        npu_jsonw_key(&j, "usable");
        npu_jsonw_bool(&j, d[i].usable);
        npu_jsonw_obj_end(&j);
    }
    npu_jsonw_arr_end(&j);
    npu_jsonw_end(&j);
}

static const char *yn(bool b)
{
    return b ? "yes" : "NO";
}

static void print_text(const struct npu_vk_device_info *d, uint32_t n)
{
    if (n == 0)
        printf("no Vulkan devices\n");
    for (uint32_t i = 0; i < n; i++) {
        printf("%u: %s (%s)\n", d[i].index, d[i].name, d[i].type);
        printf("   driver: %s %s (version 0x%08x), Vulkan %u.%u.%u\n", d[i].driver_name,
               d[i].driver_info, d[i].driver_version, API_MAJOR(d[i].api_version),
               API_MINOR(d[i].api_version), API_PATCH(d[i].api_version));
        for (uint32_t h = 0; h < d[i].n_heaps; h++)
            printf("   heap %u: %.1f MiB%s\n", h, (double)d[i].heap_size[h] / (1024.0 * 1024.0),
                   d[i].heap_device_local[h] ? " device-local" : "");
        printf("   shaderInt64: %s, shaderBufferInt64Atomics: %s, "
               "shaderDenormPreserveFloat32: %s\n",
               yn(d[i].int64), yn(d[i].int64_atomics), d[i].denorm_preserve ? "yes" : "no");
        printf("   usable: %s\n", d[i].usable ? "yes"
               : d[i].api_1_2 ? "no (missing a needed feature)" : "no (needs Vulkan 1.2)");
    }
}

int cmd_devices(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return npu_cmd_usage_error("devices", "unknown option '%s'", argv[i]);
    }
    struct npu_vk_device_info *d = NULL;
    uint32_t n = 0;
    struct npu_err err = { 0 };
    int rc = npu_vk_list_devices(&d, &n, &err);
    if (rc)
        return npu_cmd_fail(&err);
    if (json)
        print_json(d, n);
    else
        print_text(d, n);
    free(d);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "npusim devices: cannot write the output\n");
        return NPU_E_IO;
    }
    return NPU_OK;
}
