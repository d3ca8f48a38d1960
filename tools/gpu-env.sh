# Sourced by the tools/gpu-*.sh scripts on the device machine: unpacks the
# Vulkan loader and the small libraries npusim links, which that machine
# lacks (DEVICE.md's recipe carries them as .debs in .gl/), and points the
# loader at the NVIDIA driver.  The device has no Khronos validation layer.
export NPUSIM_NO_VALIDATION=1
if [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
