# Sourced by the tools/gpu-*.sh scripts on the device machine: unpacks the
# Vulkan loader, the GL vendor-neutral dispatch libraries the NVIDIA ICD
# loads (libglvnd0, libglx0, libegl1, ...) and the small libraries npusim
# links, which that machine lacks (carried as .debs in .gl/, see
# docs/performance.md), and points the loader at the NVIDIA driver.  The device has no Khronos validation layer.
export NPUSIM_NO_VALIDATION=1
if [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
