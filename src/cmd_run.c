/* npusim run: load a scenario and its network, run the bursts on a backend,
 * write the trace, print a summary. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "cmd.h"
#include "jsonw.h"
#include "netload.h"
#include "npu_config.h"
#include "scenario.h"
#include "sim.h"
#include "trace.h"
#include "value.h"

#define MAX_SETS 256

struct run_opts {
    const char *scenario;
    const char *backend;       /* NULL: the scenario's */
    const char *out;
    bool no_trace, force, json, quiet, validate;
    bool have_bursts, have_seed;
    uint32_t bursts, batch, threads;
    uint64_t seed;
    uint64_t max_memory, max_device_memory;   /* 0: what the machine has */
    int device;
    const char *sets[MAX_SETS];
    size_t n_sets;
};

static volatile sig_atomic_t stop_requested;

/* First signal: finish the batch and close the trace properly.  Second:
 * the user means it, so leave at once (the trace still reads back, up to
 * its last complete burst). */
static void on_signal(int sig)
{
    if (stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_requested = 1;
}

static void progress(void *ctx, uint32_t done, uint32_t total, double elapsed)
{
    (void)ctx;
    double rate = elapsed > 0 ? done / elapsed : 0.0;
    double left = rate > 0 ? (total - done) / rate : 0.0;
    fprintf(stderr, "\rburst %u/%u  %.0f bursts/s  %.0f s left   ", done, total, rate, left);
    if (done == total)
        fputc('\n', stderr);
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
    enum { O_BACKEND = 256, O_DEVICE, O_BATCH, O_BURSTS, O_OUT, O_NOTRACE, O_FORCE, O_SET,
           O_SEED, O_VALIDATE, O_JSON, O_QUIET, O_MAXMEM, O_MAXDEV, O_THREADS };
    static const struct option opts[] = {
        { "backend", required_argument, NULL, O_BACKEND },
        { "device", required_argument, NULL, O_DEVICE },
        { "batch", required_argument, NULL, O_BATCH },
        { "bursts", required_argument, NULL, O_BURSTS },
        { "out", required_argument, NULL, O_OUT },
        { "no-trace", no_argument, NULL, O_NOTRACE },
        { "force", no_argument, NULL, O_FORCE },
        { "set", required_argument, NULL, O_SET },
        { "seed", required_argument, NULL, O_SEED },
        { "validate", no_argument, NULL, O_VALIDATE },
        { "json", no_argument, NULL, O_JSON },
        { "quiet", no_argument, NULL, O_QUIET },
        { "max-memory", required_argument, NULL, O_MAXMEM },
        { "max-device-memory", required_argument, NULL, O_MAXDEV },
        { "threads", required_argument, NULL, O_THREADS },
        { NULL, 0, NULL, 0 },
    };
    char why[NPU_WHY_MAX];
    uint32_t u;
    int c;
    o->device = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_BACKEND:
            if (strcmp(optarg, "cpu") && strcmp(optarg, "vulkan") && strcmp(optarg, "auto"))
                return npu_cmd_usage_error("run", "--backend=%s: expected cpu, vulkan or auto", optarg);
            o->backend = optarg;
            break;
        case O_DEVICE:
            if (npu_value_u32(optarg, 0, 1024, &u, why))
                return npu_cmd_usage_error("run", "--device: %s", why);
            o->device = (int)u;
            break;
        case O_BATCH:
            if (npu_value_u32(optarg, 1, 1u << 20, &o->batch, why))
                return npu_cmd_usage_error("run", "--batch: %s", why);
            break;
        case O_THREADS:
            if (npu_value_u32(optarg, 1, 16, &o->threads, why))
                return npu_cmd_usage_error("run", "--threads: %s", why);
            break;
        case O_BURSTS:
            if (npu_value_u32(optarg, 0, NPU_MAX_BURSTS, &o->bursts, why))
                return npu_cmd_usage_error("run", "--bursts: %s", why);
            o->have_bursts = true;
            break;
        case O_SEED:
            if (npu_value_u64(optarg, 0, UINT64_MAX, &o->seed, why))
                return npu_cmd_usage_error("run", "--seed: %s", why);
            o->have_seed = true;
            break;
        case O_MAXMEM:
            if (npu_value_bytes(optarg, &o->max_memory, why))
                return npu_cmd_usage_error("run", "--max-memory: %s", why);
            break;
        case O_MAXDEV:
            if (npu_value_bytes(optarg, &o->max_device_memory, why))
                return npu_cmd_usage_error("run", "--max-device-memory: %s", why);
            break;
        case O_OUT: o->out = optarg; break;
        case O_NOTRACE: o->no_trace = true; break;
        case O_FORCE: o->force = true; break;
        case O_VALIDATE: o->validate = true; break;
        case O_JSON: o->json = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_SET:
            if (o->n_sets == MAX_SETS)
                return npu_cmd_usage_error("run", "more than %d --set options", MAX_SETS);
            o->sets[o->n_sets++] = optarg;
            break;
        default:
            return npu_cmd_usage_error("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return npu_cmd_usage_error("run", optind == argc ? "expected a SCENARIO.ini"
                                                         : "expected one SCENARIO.ini, got more arguments");
    if (o->no_trace && o->out)
        return npu_cmd_usage_error("run", "--no-trace and --out contradict each other");
    o->scenario = argv[optind];
    return NPU_OK;
}

/* "dir/name.ini" -> "name.trace", in the working directory. */
static char *default_trace_path(const char *scenario)
{
    const char *base = strrchr(scenario, '/');
    base = base ? base + 1 : scenario;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".ini") == 0)
        n -= 4;
    char *p = malloc(n + 7);
    if (p)
        snprintf(p, n + 7, "%.*s.trace", (int)n, base);
    return p;
}

/* Fails early, before a long network build, when the trace could not be
 * written: it exists (without --force) or its directory is not writable.
 * The writer checks again when it creates the file. */
static int check_trace_path(const char *path, bool force, struct npu_err *err)
{
    if (!force && access(path, F_OK) == 0)
        return npu_err_set(err, NPU_E_IO, "%s: file exists (use --force to overwrite, or --out=PATH)",
                           path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
    else
        snprintf(dir, sizeof(dir), ".");
    if (access(dir, W_OK) != 0)
        return npu_err_set(err, NPU_E_IO, "%s: cannot write in %s: %s", path, dir, strerror(errno));
    return NPU_OK;
}

/* Opens the backend the user asked for; auto means a real GPU if there is
 * one with the features, otherwise the CPU. */
static int open_backend(const struct run_opts *o, const char *want, const struct npu_net *net,
                        const struct npu_run_params *params, struct npu_backend **be,
                        struct npu_err *err)
{
    struct npu_backend_cfg cfg = {
        .device_index = o->device >= 0 ? o->device : NPU_DEVICE_ANY,
        .validation = o->validate,
        .batch = o->batch,
        .max_device_bytes = o->max_device_memory,
        .threads = o->threads,
    };
    if (strcmp(want, "auto") == 0) {
        if (o->device < 0)
            cfg.device_index = NPU_DEVICE_HW_ONLY;
        int rc = npu_backend_open(&npu_backend_vulkan, &cfg, net, params, be, err);
        if (rc != NPU_E_BACKEND)
            return rc;
        return npu_backend_open(&npu_backend_cpu, &cfg, net, params, be, err);
    }
    return npu_backend_open(npu_backend_find(want), &cfg, net, params, be, err);
}

static void print_json(const struct run_opts *o, const struct npu_scenario *scn, const struct npu_net *net,
                       const struct npu_backend *be, const char *trace, const struct npu_sim_stats *st,
                       const uint64_t *area_fires, double build_s, int status)
{
    struct npu_jsonw j;
    char hex[17];
    npu_jsonw_init(&j, stdout);
    npu_jsonw_obj_begin(&j);
    npu_jsonw_key(&j, "status"); npu_jsonw_str(&j, status == NPU_OK ? "complete" : npu_status_name(status));
    npu_jsonw_key(&j, "scenario"); npu_jsonw_str(&j, o->scenario);
    npu_jsonw_key(&j, "network"); npu_jsonw_str(&j, scn->network_path);
    npu_jsonw_key(&j, "network_name"); npu_jsonw_str(&j, net->name);
    snprintf(hex, sizeof(hex), "%016" PRIx64, net->digest);
    npu_jsonw_key(&j, "network_digest"); npu_jsonw_str(&j, hex);
    snprintf(hex, sizeof(hex), "%016" PRIx64, scn->digest);
    npu_jsonw_key(&j, "scenario_digest"); npu_jsonw_str(&j, hex);
    npu_jsonw_key(&j, "seed"); npu_jsonw_u64(&j, scn->seed);
    npu_jsonw_key(&j, "backend"); npu_jsonw_str(&j, be->ops->name);
    npu_jsonw_key(&j, "device"); npu_jsonw_str(&j, be->device);
    npu_jsonw_key(&j, "trace"); npu_jsonw_str(&j, trace);
    npu_jsonw_key(&j, "neurons"); npu_jsonw_u64(&j, net->n_neurons);
    npu_jsonw_key(&j, "synapses"); npu_jsonw_u64(&j, net->n_synapses);
    npu_jsonw_key(&j, "bursts_planned"); npu_jsonw_u64(&j, scn->bursts);
    npu_jsonw_key(&j, "bursts"); npu_jsonw_u64(&j, st->bursts);
    npu_jsonw_key(&j, "fires"); npu_jsonw_u64(&j, st->fires);
    npu_jsonw_key(&j, "synaptic_events"); npu_jsonw_u64(&j, st->syn_events);
    npu_jsonw_key(&j, "build_seconds"); npu_jsonw_f64(&j, build_s);
    npu_jsonw_key(&j, "wall_seconds"); npu_jsonw_f64(&j, st->wall_s);
    npu_jsonw_key(&j, "bursts_per_second"); npu_jsonw_f64(&j, st->wall_s > 0 ? st->bursts / st->wall_s : 0.0);
    npu_jsonw_key(&j, "events_per_second");
    npu_jsonw_f64(&j, st->wall_s > 0 ? (double)st->syn_events / st->wall_s : 0.0);
    /* Device-busy time from the device's timestamps (null on the CPU or
     * where the queue has none): wall_seconds minus this is host overhead
     * or idle device. */
    npu_jsonw_key(&j, "device_seconds");
    double dev_s = be->ops->device_seconds ? be->ops->device_seconds((struct npu_backend *)be) : -1.0;
    if (dev_s >= 0.0)
        npu_jsonw_f64(&j, dev_s);
    else
        npu_jsonw_null(&j);
    /* Memory allocated through the device's API (null on the CPU, whose
     * memory is all in the process's RSS). */
    uint64_t dev_local = 0, dev_host = 0;
    if (be->ops->memory)
        be->ops->memory((struct npu_backend *)be, &dev_local, &dev_host);
    npu_jsonw_key(&j, "device_local_bytes");
    if (be->ops->memory)
        npu_jsonw_u64(&j, dev_local);
    else
        npu_jsonw_null(&j);
    npu_jsonw_key(&j, "device_host_visible_bytes");
    if (be->ops->memory)
        npu_jsonw_u64(&j, dev_host);
    else
        npu_jsonw_null(&j);
    npu_jsonw_key(&j, "host_seconds");
    npu_jsonw_obj_begin(&j);
    npu_jsonw_key(&j, "stimuli"); npu_jsonw_f64(&j, st->inject_s);
    npu_jsonw_key(&j, "submit"); npu_jsonw_f64(&j, st->submit_s);
    npu_jsonw_key(&j, "collect"); npu_jsonw_f64(&j, st->collect_s);
    npu_jsonw_key(&j, "trace"); npu_jsonw_f64(&j, st->trace_s);
    npu_jsonw_key(&j, "trace_writer"); npu_jsonw_f64(&j, st->writer_s);
    npu_jsonw_obj_end(&j);
    npu_jsonw_key(&j, "areas");
    npu_jsonw_arr_begin(&j);
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        npu_jsonw_obj_begin(&j);
        npu_jsonw_key(&j, "name"); npu_jsonw_str(&j, ar->name);
        npu_jsonw_key(&j, "neurons"); npu_jsonw_u64(&j, ar->count);
        npu_jsonw_key(&j, "fires"); npu_jsonw_u64(&j, area_fires[a]);
        npu_jsonw_key(&j, "rate");
        npu_jsonw_f64(&j, st->bursts ? (double)area_fires[a] / ((double)st->bursts * ar->count) : 0.0);
        npu_jsonw_obj_end(&j);
    }
    npu_jsonw_arr_end(&j);
    npu_jsonw_obj_end(&j);
    npu_jsonw_end(&j);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;

    struct npu_err err = { 0 };
    struct npu_override net_ov[MAX_SETS], scn_ov[MAX_SETS];
    static char ovbuf[MAX_SETS][1024];
    size_t n_net = 0, n_scn = 0;
    for (size_t i = 0; i < o.n_sets; i++) {
        const char *arg = o.sets[i];
        bool is_net = strncmp(arg, "network.", 8) == 0;
        struct npu_override *ov = is_net ? &net_ov[n_net++] : &scn_ov[n_scn++];
        if (npu_ini_split_override(is_net ? arg + 8 : arg, ovbuf[i], sizeof(ovbuf[i]), &ov->section,
                                   &ov->key, &ov->value, &err))
            return npu_cmd_usage_error("run", "%s", err.msg);
        ov->origin = arg;
    }

    /* From the start, so a signal during a long network build is not lost
     * (a background job may even have inherited SIGINT ignored). */
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Past a file-size limit, make write() fail with EFBIG (reported, the
     * trace ending at its last complete burst) instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);

    struct npu_scenario *scn = NULL;
    struct npu_net *net = NULL;
    struct npu_backend *be = NULL;
    struct npu_trace_writer *tw = NULL;
    struct npu_warnings warn = { 0 };
    uint64_t *area_fires = NULL;
    char *trace_path = NULL;
    struct npu_trace_area *tareas = NULL;
    struct npu_sim_stats st = { 0 };

    if ((rc = npu_scn_load(o.scenario, scn_ov, n_scn, &scn, &err)))
        goto done;
    if (o.have_bursts)
        scn->bursts = o.bursts;
    if (o.have_seed)
        scn->seed = o.seed;
    if (!o.no_trace) {
        trace_path = o.out ? strdup(o.out) : scn->trace_path ? strdup(scn->trace_path)
                                                            : default_trace_path(o.scenario);
        if (!trace_path) {
            rc = npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
            goto done;
        }
        if ((rc = check_trace_path(trace_path, o.force, &err)))
            goto done;
    }
    double t0 = npu_clock_now();
    struct npu_netload_opts lo = { .overrides = net_ov, .n_overrides = n_net, .max_bytes = o.max_memory };
    if ((rc = npu_netload_file(scn->network_path, &lo, &net, &warn, &err)))
        goto done;
    double build_s = npu_clock_now() - t0;
    if ((rc = npu_scn_resolve(scn, net, &warn, &err)))
        goto done;
    for (size_t i = 0; i < warn.n; i++)
        fprintf(stderr, "%s\n", warn.msg[i]);

    const char *want = o.backend ? o.backend : scn->backend;
    struct npu_run_params params = { .power_q = scn->power_q };
    if ((rc = open_backend(&o, want, net, &params, &be, &err)))
        goto done;

    if (stop_requested) {
        rc = npu_err_set(&err, NPU_E_INTERRUPTED, "interrupted before the first burst; no trace written");
        goto done;
    }
    if (!o.no_trace) {
        tareas = calloc(net->n_areas, sizeof(*tareas));
        if (!tareas) {
            rc = npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
            goto done;
        }
        for (uint32_t a = 0; a < net->n_areas; a++) {
            snprintf(tareas[a].name, sizeof(tareas[a].name), "%s", net->areas[a].name);
            tareas[a].base = net->areas[a].base;
            tareas[a].count = net->areas[a].count;
            memcpy(tareas[a].dim, net->areas[a].dim, sizeof(tareas[a].dim));
        }
        struct npu_trace_header hdr = {
            .version = NPU_TRACE_VERSION,
            .program = "npusim " NPU_VERSION,
            .backend = (char *)be->ops->name,
            .device = be->device,
            .network_name = net->name,
            .network_path = scn->network_path,
            .scenario_path = (char *)o.scenario,
            .network_digest = net->digest,
            .scenario_digest = scn->digest,
            .seed = scn->seed,
            .n_overrides = (uint32_t)o.n_sets,
            .overrides = (char **)o.sets,
            .n_neurons = net->n_neurons,
            .bursts_planned = scn->bursts,
            .potentials = scn->potentials,
            .n_areas = net->n_areas,
            .areas = tareas,
            .n_probes = scn->n_probes,
            .probes = scn->probe_ids,
        };
        if ((rc = npu_trace_writer_open(trace_path, o.force, &hdr, &tw, &err))) {
            if (rc == NPU_E_IO && strstr(err.msg, "exists") && !strstr(err.msg, "--force"))
                npu_err_set(&err, rc, "%s (use --force to overwrite, or --out=PATH)", err.msg);
            goto done;
        }
    }

    area_fires = calloc(net->n_areas, sizeof(*area_fires));
    if (!area_fires) {
        rc = npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
        goto done;
    }
    struct npu_sim_opts so = {
        .batch = o.batch,
        .trace = tw,
        .stop = &stop_requested,
        .progress = (!o.quiet && !o.json && isatty(STDERR_FILENO)) ? progress : NULL,
        .area_fires = area_fires,
    };
    rc = npu_sim_run(net, scn, be, &so, &st, &err);
    if (tw) {
        struct npu_err cerr = { 0 };
        enum npu_trace_end how = rc == NPU_OK ? NPU_TRACE_END_COMPLETE
                               : rc == NPU_E_INTERRUPTED ? NPU_TRACE_END_INTERRUPTED : NPU_TRACE_END_ERROR;
        int crc = npu_trace_writer_close(tw, how, &cerr);
        tw = NULL;
        if (crc && !rc) {
            rc = crc;
            err = cerr;
        }
    }
    if (o.json)
        print_json(&o, scn, net, be, trace_path, &st, area_fires, build_s, rc);
    else if (!o.quiet)
        printf("%s: %u bursts on %s (%s): %" PRIu64 " fires, %" PRIu64 " synaptic events, "
               "%.3f s (%.0f bursts/s)%s%s\n",
               o.scenario, st.bursts, be->ops->name, be->device, st.fires, st.syn_events, st.wall_s,
               st.wall_s > 0 ? st.bursts / st.wall_s : 0.0, trace_path ? ", trace " : "",
               trace_path ? trace_path : "");
    if (!rc && (fflush(stdout) != 0 || ferror(stdout)))
        rc = npu_err_set(&err, NPU_E_IO, "stdout: write error");
done:
    if (rc)
        npu_cmd_fail(&err);
    npu_trace_writer_abort(tw);
    npu_backend_destroy(be);
    npu_warnings_free(&warn);
    npu_net_free(net);
    npu_scn_free(scn);
    free(area_fires);
    free(trace_path);
    free(tareas);
    return rc;
}
