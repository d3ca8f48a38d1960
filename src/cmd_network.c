#include "cmd.h"

int cmd_network(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("network", "not implemented yet");
}
