/* npu_scn: a scenario INI file (README.md, "Scenario files"): which network,
 * how many bursts, the power amount, the stimuli, and what to record. */
#ifndef NPU_SCENARIO_H
#define NPU_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "inidoc.h"
#include "net.h"

#define NPU_MAX_BURSTS UINT32_C(0xfffffffe)   /* burst numbers are uint32, 0 is "none" */

enum npu_sel { NPU_SEL_ALL, NPU_SEL_LIST, NPU_SEL_BOX, NPU_SEL_RANDOM };

struct npu_burst_range {
    uint32_t first, last, step;   /* first..last every step */
};

struct npu_stim {
    char name[NPU_NAME_MAX];
    char section[NPU_NAME_MAX + 16]; /* "stimulus NAME", or "record" for the probes */
    char where[256];              /* FILE:LINE of the section */
    char area_where[256];         /* FILE:LINE of `area`, or the --set that gave it */
    char neurons_where[256];      /* the same for `neurons` (the section when absent) */
    char area_name[NPU_NAME_MAX];
    uint32_t area;                /* resolved by npu_scn_resolve */
    enum npu_sel sel;
    uint32_t (*coords)[3];        /* list: the coordinates as given */
    uint32_t n_coords;
    uint32_t box[3][2];           /* box: inclusive ranges per axis */
    double probability;           /* random */
    uint32_t *ids;                /* resolved ids for list/box/all (all: NULL, use the area range) */
    uint32_t n_ids;
    int64_t q;                    /* potential in Q16 */
    bool always;                  /* no `bursts` key */
    struct npu_burst_range *ranges;
    uint32_t n_ranges;
};

struct npu_scenario {
    char *path;
    char *network_path;           /* resolved relative to the scenario file */
    char *trace_path;             /* as given (relative to the working directory), or NULL */
    char backend[16];             /* "auto" unless the file says */
    uint32_t bursts;
    double power;
    int64_t power_q;
    uint64_t seed;
    bool potentials;              /* [record] potentials */
    bool has_probes;              /* [record] potentials_of = AREA [SELECTION] */
    struct npu_stim probe_sel;    /* the probed neurons, as a selection */
    uint32_t *probe_ids;          /* resolved, ascending, unique */
    uint32_t n_probes;
    uint64_t digest;              /* file bytes and overrides */
    uint32_t n_stims;
    struct npu_stim *stims;
};

/* Loads the scenario and applies its overrides (sections of the scenario
 * file; `network.` overrides are the caller's). */
int npu_scn_load(const char *path, const struct npu_override *ov, size_t n_ov,
                 struct npu_scenario **out, struct npu_err *err);

/* Same, from an already parsed file (for tests and fuzzing). */
int npu_scn_load_ini(struct npu_ini *ini, const struct npu_override *ov, size_t n_ov,
                     struct npu_scenario **out, struct npu_err *err);

/* Binds stimuli to the network's areas and checks coordinates.  Adds
 * warnings for stimuli scheduled past the last burst and areas that can
 * never receive input. */
int npu_scn_resolve(struct npu_scenario *scn, const struct npu_net *net,
                    struct npu_warnings *warn, struct npu_err *err);

/* Whether stimulus s is scheduled in burst b. */
bool npu_scn_scheduled(const struct npu_stim *s, uint32_t b);

void npu_scn_free(struct npu_scenario *scn);

#endif
