#include "cmd.h"

int cmd_devices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return npu_cmd_usage_error("devices", "not implemented yet");
}
