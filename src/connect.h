/* npu_connect: the connection rules that turn a [connect A -> B] section
 * into synapses.
 *
 * Each rule produces, for every source neuron of its source range, the
 * targets in ascending id order (ties in creation order), so the network
 * builder only has to merge connections, never sort a whole network. */
#ifndef NPU_CONNECT_H
#define NPU_CONNECT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "net.h"

enum npu_rule {
    NPU_RULE_ALL_TO_ALL,
    NPU_RULE_ONE_TO_ONE,
    NPU_RULE_PROJECTOR,
    NPU_RULE_RANDOM,
    NPU_RULE_FILE,
};

struct npu_conn_spec {
    char where[256];          /* "FILE:LINE" of the section, for messages */
    char section[256];        /* "connect a -> b" */
    bool wildcard;            /* [connect * -> *]: a file rule over the whole network */
    uint32_t src, dst;        /* area indices (unused when wildcard) */
    enum npu_rule rule;
    double probability;       /* random: > 0 when used */
    uint32_t fanout;          /* random: > 0 when used */
    uint8_t weight, psp;
    bool inhibitory;
    char *file;               /* file rule: resolved path (owned) */
    uint64_t max_bytes;       /* file rule: memory the rows may take; 0 = no limit */
};

/* Synapses of one connection: sources first .. first+n_src-1, count[k]
 * synapses for source first+k, laid out source by source. */
struct npu_conn_out {
    uint32_t first, n_src;
    uint32_t *count;
    uint64_t n;
    uint32_t *tgt;            /* NPU_SYN_INHIBITORY | target id */
    uint16_t *wp;             /* weight | psp << 8 */
};

/* Synapse count of the rule before generating, for the memory estimate:
 * exact, or the expectation for a probability rule, 0 for a file. */
uint64_t npu_connect_estimate(const struct npu_net *net, const struct npu_conn_spec *spec);

/* Generates the synapses.  net->areas and n_neurons must be set.  index is
 * the connection's position in the file, part of the random stream. */
int npu_connect_generate(const struct npu_net *net, const struct npu_conn_spec *spec,
                         uint64_t seed, uint32_t index, struct npu_conn_out *out,
                         struct npu_err *err);

void npu_connect_out_free(struct npu_conn_out *out);

#endif
