#include "cmd.h"

int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("info", "not implemented yet");
}
