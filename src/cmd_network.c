/* npusim network: build a network file and describe or export it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "cmd.h"
#include "jsonw.h"
#include "netload.h"
#include "value.h"

#define MAX_SETS 256

/* Closes f and turns any write error into NPU_E_IO, so a full disk is
 * reported instead of leaving a short CSV. */
static int close_checked(FILE *f, const char *path, struct npu_err *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return npu_err_set(err, NPU_E_IO, "%s: write error: %s", path, strerror(errno));
    return NPU_OK;
}

static int export_csv(const struct npu_net *net, const char *dir, struct npu_err *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return npu_err_set(err, NPU_E_IO, "%s: cannot create: %s", dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof(path), "%s/neurons.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return npu_err_set(err, NPU_E_IO, "%s: cannot create: %s", path, strerror(errno));
    fputs("neuron,area,x,y,z,threshold,threshold_limit,leak,refractory,consecutive_fire_limit,"
          "snooze,excitability,mp_charge_accumulation,power,mp_driven_psp,psp_uniform_distribution\n", f);
    for (uint32_t i = 0; i < net->n_neurons; i++) {
        const struct npu_area *a = &net->areas[net->area_of[i]];
        uint32_t c[3];
        npu_net_coords(net, i, c);
        char limit[32] = "";
        if (a->has_limit)
            snprintf(limit, sizeof(limit), "%.9g", (double)a->threshold_limit);
        fprintf(f, "%u,%s,%u,%u,%u,%.9g,%s,%.9g,%u,%u,%u,%.9g,%d,%d,%d,%d\n", i, a->name, c[0], c[1],
                c[2], (double)a->threshold, limit, (double)a->leak, a->refractory, a->cfl, a->snooze,
                (double)a->excitability, a->accumulate, a->power, a->mp_driven_psp, a->psp_uniform);
    }
    int rc = close_checked(f, path, err);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/synapses.csv", dir);
    f = fopen(path, "w");
    if (!f)
        return npu_err_set(err, NPU_E_IO, "%s: cannot create: %s", path, strerror(errno));
    fputs("source,target,weight,psp,type\n", f);
    for (uint32_t s = 0; s < net->n_neurons; s++)
        for (uint32_t e = net->syn_off[s]; e < net->syn_off[s + 1]; e++)
            fprintf(f, "%u,%u,%u,%u,%d\n", s, net->syn_target[e] & NPU_SYN_TARGET_MASK,
                    net->syn_wp[e] & 0xff, net->syn_wp[e] >> 8,
                    (net->syn_target[e] & NPU_SYN_INHIBITORY) ? -1 : 1);
    return close_checked(f, path, err);
}

int cmd_network(int argc, char **argv)
{
    static const struct option opts[] = {
        { "export", required_argument, NULL, 'e' },
        { "json", no_argument, NULL, 'j' },
        { "set", required_argument, NULL, 's' },
        { "max-memory", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    const char *export_dir = NULL;
    bool json = false;
    uint64_t max_memory = 0;
    struct npu_override ov[MAX_SETS];
    char ovbuf[MAX_SETS][1024];
    size_t n_ov = 0;
    struct npu_err err = { 0 };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e': export_dir = optarg; break;
        case 'j': json = true; break;
        case 'm': {
            char why[NPU_WHY_MAX];
            if (npu_value_bytes(optarg, &max_memory, why))
                return npu_cmd_usage_error("network", "--max-memory: %s", why);
            break;
        }
        case 's': {
            if (n_ov == MAX_SETS)
                return npu_cmd_usage_error("network", "more than %d --set options", MAX_SETS);
            const char *arg = strncmp(optarg, "network.", 8) == 0 ? optarg + 8 : optarg;
            if (npu_ini_split_override(arg, ovbuf[n_ov], sizeof(ovbuf[n_ov]), &ov[n_ov].section,
                                       &ov[n_ov].key, &ov[n_ov].value, &err))
                return npu_cmd_usage_error("network", "%s", err.msg);
            ov[n_ov].origin = optarg;
            n_ov++;
            break;
        }
        default:
            return npu_cmd_usage_error("network", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return npu_cmd_usage_error("network", "expected one NETWORK.ini");

    struct npu_netload_opts lo = { .overrides = ov, .n_overrides = n_ov, .max_bytes = max_memory };
    struct npu_warnings warn = { 0 };
    struct npu_net *net;
    double t0 = npu_clock_now();
    int rc = npu_netload_file(argv[optind], &lo, &net, &warn, &err);
    double build_s = npu_clock_now() - t0;
    for (size_t i = 0; i < warn.n; i++)
        fprintf(stderr, "%s\n", warn.msg[i]);
    npu_warnings_free(&warn);
    if (rc)
        return npu_cmd_fail(&err);

    if (export_dir && (rc = export_csv(net, export_dir, &err))) {
        npu_net_free(net);
        return npu_cmd_fail(&err);
    }
    if (json) {
        struct npu_jsonw j;
        npu_jsonw_init(&j, stdout);
        npu_jsonw_obj_begin(&j);
        npu_jsonw_key(&j, "name"); npu_jsonw_str(&j, net->name);
        npu_jsonw_key(&j, "path"); npu_jsonw_str(&j, argv[optind]);
        char dg[17];
        snprintf(dg, sizeof(dg), "%016" PRIx64, net->digest);
        npu_jsonw_key(&j, "digest"); npu_jsonw_str(&j, dg);
        npu_jsonw_key(&j, "seed"); npu_jsonw_u64(&j, net->seed);
        npu_jsonw_key(&j, "neurons"); npu_jsonw_u64(&j, net->n_neurons);
        npu_jsonw_key(&j, "synapses"); npu_jsonw_u64(&j, net->n_synapses);
        npu_jsonw_key(&j, "bytes"); npu_jsonw_u64(&j, npu_net_bytes(net));
        npu_jsonw_key(&j, "build_seconds"); npu_jsonw_f64(&j, build_s);
        npu_jsonw_key(&j, "areas");
        npu_jsonw_arr_begin(&j);
        for (uint32_t a = 0; a < net->n_areas; a++) {
            const struct npu_area *ar = &net->areas[a];
            npu_jsonw_obj_begin(&j);
            npu_jsonw_key(&j, "name"); npu_jsonw_str(&j, ar->name);
            npu_jsonw_key(&j, "first"); npu_jsonw_u64(&j, ar->base);
            npu_jsonw_key(&j, "neurons"); npu_jsonw_u64(&j, ar->count);
            npu_jsonw_key(&j, "size");
            npu_jsonw_arr_begin(&j);
            for (int d = 0; d < 3; d++)
                npu_jsonw_u64(&j, ar->dim[d]);
            npu_jsonw_arr_end(&j);
            npu_jsonw_key(&j, "synapses_out");
            npu_jsonw_u64(&j, net->syn_off[ar->base + ar->count] - net->syn_off[ar->base]);
            npu_jsonw_key(&j, "power"); npu_jsonw_bool(&j, ar->power);
            npu_jsonw_obj_end(&j);
        }
        npu_jsonw_arr_end(&j);
        npu_jsonw_obj_end(&j);
        npu_jsonw_end(&j);
    } else {
        printf("network %s (%s)\n", net->name, argv[optind]);
        printf("  neurons   %u\n  synapses  %" PRIu64 "\n", net->n_neurons, net->n_synapses);
        printf("  memory    %.1f MiB (%.2f bytes/synapse)\n", (double)npu_net_bytes(net) / 1048576.0,
               net->n_synapses ? (double)npu_net_bytes(net) / (double)net->n_synapses : 0.0);
        printf("  digest    %016" PRIx64 "\n  built in  %.3f s\n", net->digest, build_s);
        printf("  %-20s %10s %12s %14s %s\n", "area", "first id", "neurons", "synapses out", "size");
        for (uint32_t a = 0; a < net->n_areas; a++) {
            const struct npu_area *ar = &net->areas[a];
            printf("  %-20s %10u %12u %14u %ux%ux%u%s\n", ar->name, ar->base, ar->count,
                   net->syn_off[ar->base + ar->count] - net->syn_off[ar->base], ar->dim[0], ar->dim[1],
                   ar->dim[2], ar->power ? " power" : "");
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        npu_net_free(net);
        npu_err_set(&err, NPU_E_IO, "stdout: write error");
        return npu_cmd_fail(&err);
    }
    npu_net_free(net);
    return NPU_OK;
}
