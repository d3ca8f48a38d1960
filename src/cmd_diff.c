#include "cmd.h"

int cmd_diff(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("diff", "not implemented yet");
}
