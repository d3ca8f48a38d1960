#include "cmd.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("run", "not implemented yet");
}
