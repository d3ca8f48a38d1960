/* placeholder: being written */
typedef int npu_placeholder_backend_cpu;
