#include "cmd.h"

int cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("export", "not implemented yet");
}
