# Sourced by the tools/gpu-*.sh scripts on the device machine: unpacks the
# Vulkan loader, the GL vendor-neutral dispatch libraries the NVIDIA ICD
# loads (libglvnd0, libglx0, libegl1, ...) and the small libraries npusim
# links, which that machine lacks, and points the loader at the NVIDIA
# driver.  The .debs travel in .gl/, fetched once on the build machine:
#   echo /.gl/ >> .git/info/exclude; mkdir -p .gl /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update && (cd .gl && apt-get $o download libvulkan1 libinih1 \
#       libxxhash0 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# and the build carried there (the scripts run build/, so carry a folder
# configured with -Dhdf5=disabled and link it to build/: HDF5 would
# need dozens more).  The device has no Khronos validation layer.
export NPUSIM_NO_VALIDATION=1
if [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
