rm -rf build && ln -s build-dev build
export TUNE_PROFILE=1
tools/gpu-tune.sh "1m" 1 d1k=NPUSIM_VK_DYN_GROUPS=1024 base= d4k=NPUSIM_VK_DYN_GROUPS=4096 d8k=NPUSIM_VK_DYN_GROUPS=8192 d16k=NPUSIM_VK_DYN_GROUPS=16384 f2k=NPUSIM_VK_FILL_GROUPS=2048 f8k=NPUSIM_VK_FILL_GROUPS=8192 f16k=NPUSIM_VK_FILL_GROUPS=16384 2>&1 | tail -10
rm build && ln -s build-e1 build
tools/gpu-tune.sh "1m" 1 oldsetup= 2>&1 | tail -1
rm build && ln -s build-dev build
for s in 100k 1m; do NPUSIM_VK_PROFILE=1 build/src/npusim run scenarios/bench-$s.ini --backend=vulkan --no-trace --bursts=1000 --quiet 2>&1 | tail -5; done
