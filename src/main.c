/* npusim: command dispatch, in the manner of git: a table of subcommands,
 * `--help` and `help NAME` come from the same table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "npu_config.h"

static const struct npu_cmd commands[] = {
    { "run", cmd_run, "run a scenario and write its fire trace",
      "usage: npusim run SCENARIO.ini [options]\n"
      "\n"
      "  --backend=cpu|vulkan|auto  burst engine (default: the scenario's, else auto)\n"
      "  --device=N                 Vulkan device index from `npusim devices`\n"
      "  --batch=K                  bursts per GPU submission (default: automatic)\n"
      "  --bursts=N                 number of bursts (overrides the scenario)\n"
      "  --out=TRACE                trace path (overrides the scenario's `trace`)\n"
      "  --no-trace                 run without writing a trace\n"
      "  --force                    overwrite an existing trace\n"
      "  --set SECTION.KEY=VALUE    override a scenario key; prefix `network.` for\n"
      "                             the network file. The key is what follows the\n"
      "                             last dot, so section names may hold spaces:\n"
      "                             --set \"network.area v1.threshold=2\"\n"
      "                             --set scenario.power=0.5\n"
      "  --seed=N                   scenario seed (random stimuli)\n"
      "  --validate                 Vulkan: enable the Khronos validation layer\n"
      "  --max-memory=SIZE          refuse networks needing more host memory (e.g. 8G;\n"
      "                             default: what the system has available)\n"
      "  --max-device-memory=SIZE   Vulkan: refuse networks needing more device memory\n"
      "  --threads=N                CPU: worker threads, 1-16 (default: online CPUs,\n"
      "                             fewer for small networks); results are identical\n"
      "  --json                     print a JSON summary on stdout\n"
      "  --quiet                    no summary, no progress, warnings only\n" },
    { "diff", cmd_diff, "compare the fires of two traces",
      "usage: npusim diff A.trace B.trace [--quiet]\n"
      "\n"
      "Exits 0 when both hold the same fires (bursts, ids and membrane\n"
      "potentials bit for bit), 1 when they differ, and the error code (>= 2)\n"
      "on trouble.  Header metadata (backend, device, program) is not compared.\n" },
    { "info", cmd_info, "summarise a trace",
      "usage: npusim info TRACE [--json] [--series=N]\n"
      "\n"
      "  --json      one JSON object: header, totals, how the run ended, and per\n"
      "              area fires, rate, first and last burst with a fire\n"
      "  --series=N  --json also holds \"activity\": fires per burst, summed over\n"
      "              bins of \"activity_bin_bursts\" consecutive bursts so that at\n"
      "              most N values remain (default 1000; the last bin may be shorter)\n" },
    { "export", cmd_export, "export a trace as CSV, bmtk spikes or a SONATA report",
      "usage: npusim export TRACE --format=csv|bmtk|sonata [-o FILE] [--probes]\n"
      "\n"
      "  csv:    burst,neuron,area,x,y,z,mp  (mp printed with %.9g)\n"
      "  bmtk:   timestamps population node_ids  (space separated)\n"
      "  sonata: a SONATA spike report (HDF5; -o FILE.h5 required): one\n"
      "          /spikes/AREA group per area, timestamps = burst numbers,\n"
      "          node_ids = index within the area, sorted by time.  Builds\n"
      "          without libhdf5-dev lack it and say so (exit 2).\n"
      "  --probes  with csv: the state probes instead of the fires, as\n"
      "          burst,neuron,mp (mp after the burst; [record] potentials_of)\n" },
    { "network", cmd_network, "build a network and describe it",
      "usage: npusim network NETWORK.ini [--export=DIR] [--json] [--set SECTION.KEY=VALUE]...\n"
      "\n"
      "  --export=DIR       write DIR/neurons.csv and DIR/synapses.csv\n"
      "  --max-memory=SIZE  refuse networks needing more host memory (e.g. 8G)\n" },
    { "devices", cmd_devices, "list Vulkan devices",
      "usage: npusim devices [--json]\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes[] =
    "exit codes (every command):\n"
    "  0  success\n"
    "  1  diff: the traces differ\n"
    "  2  usage: bad command line\n"
    "  3  input: bad network, scenario or --set value (FILE:LINE: message)\n"
    "  4  io: a file could not be read or written (disk full included)\n"
    "  5  trace: corrupt trace, or a version this build cannot read\n"
    "  6  backend: backend not available (not built, no Vulkan, no device, missing feature)\n"
    "  7  resource: out of memory, or the network exceeds a limit\n"
    "  8  device: the device failed during the run\n"
    "  9  interrupted: stopped by SIGINT/SIGTERM (the trace ends at the last burst)\n"
    " 70  internal error\n";

const struct npu_cmd *npu_cmd_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void npu_cmd_print_usage(const char *name, FILE *f)
{
    const struct npu_cmd *c = npu_cmd_find(name);
    if (c)
        fputs(c->usage, f);
}

int npu_cmd_fail(const struct npu_err *err)
{
    fprintf(stderr, "npusim: %s\n", err->msg);
    return err->code ? err->code : NPU_E_INTERNAL;
}

int npu_cmd_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "npusim %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `npusim help %s`)\n", name);
    return NPU_E_USAGE;
}

static void print_help(FILE *f)
{
    fprintf(f, "npusim %s: a simulator of FEAGI's neural burst engine\n\n", NPU_VERSION);
    fputs("usage: npusim COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("  help      show a command's options: npusim help COMMAND\n\n", f);
    fputs(exit_codes, f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return NPU_E_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("npusim %s\n", NPU_VERSION);
        return NPU_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_help(stdout);
        return NPU_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return NPU_OK;
        }
        const struct npu_cmd *c = npu_cmd_find(argv[2]);
        if (!c) {
            fprintf(stderr, "npusim: no command '%s' (try `npusim --help`)\n", argv[2]);
            return NPU_E_USAGE;
        }
        fputs(c->usage, stdout);
        fputs("\n", stdout);
        fputs(exit_codes, stdout);
        return NPU_OK;
    }
    const struct npu_cmd *c = npu_cmd_find(name);
    if (!c) {
        fprintf(stderr, "npusim: no command '%s' (try `npusim --help`)\n", name);
        return NPU_E_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->usage, stdout);
            return NPU_OK;
        }
    }
    return c->fn(argc - 1, argv + 1);
}
