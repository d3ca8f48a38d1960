/* mktrace: writes a trace described on its command line, through the
 * writer API, so the trace commands can be tested without `npusim run`.
 *
 * usage: mktrace OUT [options] BURST...
 *   --neurons=N                 n_neurons (default 100)
 *   --area=NAME:BASE:X:Y:Z      an area (repeat; count = X*Y*Z)
 *   --potentials                record membrane potentials
 *   --backend=S --device=S --program=S --seed=N --set=S (repeat)
 *   --end=complete|interrupted|error|none   none: no end record, as if killed
 *   --force                     overwrite OUT
 *   --kill-after=K              flush after burst K, then SIGKILL itself
 * Each BURST is "-" (no fires) or ID[:MP],ID[:MP],... ascending; MP is
 * parsed with strtof and defaults to 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define MAX_AREAS 16
#define MAX_SETS 16

static int die(const char *what)
{
    fprintf(stderr, "mktrace: %s\n", what);
    return 2;
}

static unsigned long num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "mktrace: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "neurons", required_argument, NULL, 'n' },
        { "area", required_argument, NULL, 'a' },
        { "potentials", no_argument, NULL, 'p' },
        { "backend", required_argument, NULL, 'b' },
        { "device", required_argument, NULL, 'd' },
        { "program", required_argument, NULL, 'g' },
        { "seed", required_argument, NULL, 's' },
        { "set", required_argument, NULL, 'S' },
        { "end", required_argument, NULL, 'e' },
        { "force", no_argument, NULL, 'f' },
        { "kill-after", required_argument, NULL, 'k' },
        { 0 },
    };
    struct npu_trace_area areas[MAX_AREAS];
    char *sets[MAX_SETS];
    struct npu_trace_header h = {
        .program = "mktrace",
        .backend = "test",
        .device = "none",
        .network_name = "mknet",
        .network_path = "mknet.ini",
        .scenario_path = "mkscenario.ini",
        .network_digest = 0x1234,
        .scenario_digest = 0x5678,
        .n_neurons = 100,
        .areas = areas,
        .overrides = sets,
    };
    const char *end = "complete";
    bool force = false;
    unsigned long kill_after = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': h.n_neurons = (uint32_t)num(optarg); break;
        case 'p': h.potentials = true; break;
        case 'b': h.backend = optarg; break;
        case 'd': h.device = optarg; break;
        case 'g': h.program = optarg; break;
        case 's': h.seed = num(optarg); break;
        case 'e': end = optarg; break;
        case 'f': force = true; break;
        case 'k': kill_after = num(optarg); break;
        case 'S':
            if (h.n_overrides == MAX_SETS)
                return die("too many --set");
            sets[h.n_overrides++] = optarg;
            break;
        case 'a': {
            if (h.n_areas == MAX_AREAS)
                return die("too many areas");
            struct npu_trace_area *a = &areas[h.n_areas++];
            char *f[5], *save = NULL, *s = optarg;
            for (int i = 0; i < 5; i++) {
                f[i] = strtok_r(s, ":", &save);
                s = NULL;
                if (!f[i])
                    return die("--area=NAME:BASE:X:Y:Z");
            }
            snprintf(a->name, sizeof(a->name), "%s", f[0]);
            a->base = (uint32_t)num(f[1]);
            for (int i = 0; i < 3; i++)
                a->dim[i] = (uint32_t)num(f[2 + i]);
            a->count = a->dim[0] * a->dim[1] * a->dim[2];
            break;
        }
        default:
            return die("bad option");
        }
    }
    if (optind >= argc)
        return die("usage: mktrace OUT [options] BURST...");
    const char *out = argv[optind++];
    uint32_t nb = (uint32_t)(argc - optind);
    h.bursts_planned = nb;

    struct npu_err err = { 0 };
    struct npu_trace_writer *w;
    if (npu_trace_writer_open(out, force, &h, &w, &err)) {
        fprintf(stderr, "mktrace: %s\n", err.msg);
        return err.code;
    }
    uint32_t *ids = malloc(sizeof(*ids) * (h.n_neurons + 1));
    float *mp = malloc(sizeof(*mp) * (h.n_neurons + 1));
    if (!ids || !mp)
        return die("out of memory");
    for (uint32_t b = 0; b < nb; b++) {
        char *spec = argv[optind + (int)b], *save = NULL;
        uint32_t n = 0;
        if (strcmp(spec, "-") != 0) {
            for (char *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (n > h.n_neurons)
                    return die("more ids than neurons");
                char *colon = strchr(tok, ':');
                mp[n] = 0.0f;
                if (colon) {
                    *colon = '\0';
                    mp[n] = strtof(colon + 1, NULL);
                }
                ids[n++] = (uint32_t)num(tok);
            }
        }
        if (npu_trace_writer_burst(w, b + 1, n, ids, mp, &err)) {
            fprintf(stderr, "mktrace: %s\n", err.msg);
            return err.code;
        }
        /* What `npusim run` does between batches, then the worst stop. */
        if (b + 1 == kill_after) {
            if (npu_trace_writer_flush(w, &err)) {
                fprintf(stderr, "mktrace: %s\n", err.msg);
                return err.code;
            }
            raise(SIGKILL);
        }
    }
    free(ids);
    free(mp);
    int rc;
    if (strcmp(end, "none") == 0) {
        rc = npu_trace_writer_flush(w, &err);
        npu_trace_writer_abort(w);
    } else {
        enum npu_trace_end how = strcmp(end, "interrupted") == 0 ? NPU_TRACE_END_INTERRUPTED
                                 : strcmp(end, "error") == 0     ? NPU_TRACE_END_ERROR
                                                                 : NPU_TRACE_END_COMPLETE;
        rc = npu_trace_writer_close(w, how, &err);
    }
    if (rc) {
        fprintf(stderr, "mktrace: %s\n", err.msg);
        return rc;
    }
    return 0;
}
