/* placeholder: being written */
typedef int npu_placeholder_connect;
