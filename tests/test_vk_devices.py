#!/usr/bin/env python3
"""Device choice and failure paths of the Vulkan backend, through the binary.

usage: test_vk_devices.py NPUSIM SCENARIO
Exit 77 (skip) when no usable Vulkan device is present."""
import json
import os
import subprocess
import sys

NPU_E_BACKEND = 6
SKIP = 77


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, env=e)


def main():
    npusim, scenario = sys.argv[1], sys.argv[2]
    p = run([npusim, "devices", "--json"])
    if p.returncode == NPU_E_BACKEND:
        print("SKIP:", p.stderr.strip())
        return SKIP
    assert p.returncode == 0, p.stderr
    devices = json.loads(p.stdout)
    usable = [d for d in devices if d["usable"]]
    if not usable:
        print("SKIP: no usable Vulkan device")
        return SKIP
    for d in devices:
        for key in ("index", "name", "type", "driver_name", "api_version", "heaps",
                    "shaderInt64", "shaderBufferInt64Atomics", "shaderDenormPreserveFloat32"):
            assert key in d, key
    p = run([npusim, "devices"])
    assert p.returncode == 0 and "usable" in p.stdout, p.stdout

    base = [npusim, "run", scenario, "--no-trace", "--json", "--bursts=20"]
    # An explicit device index runs there, with validation.
    p = run(base + ["--backend=vulkan", "--validate", "--device=%d" % usable[0]["index"]])
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["backend"] == "vulkan"
    # the device memory it reports holds at least the synapses (6 bytes
    # each) and a state word per neuron, and the readback is host-visible
    assert d["device_local_bytes"] >= 6 * d["synapses"] + 4 * d["neurons"], p.stdout
    assert d["device_host_visible_bytes"] > 0, p.stdout
    # llvmpipe ends shader loops after 65535 iterations in all: a grid of
    # one fill workgroup on a 100k-neuron network would go past that, so
    # the backend refuses it (exit 7, resource) instead of giving wrong fires
    if "llvmpipe" in usable[0]["name"]:
        bench = os.path.join(os.path.dirname(scenario), "bench-100k.ini")
        p = run([npusim, "run", bench, "--no-trace", "--bursts=1", "--backend=vulkan"],
                env={"NPUSIM_VK_FILL_GROUPS": "1"})
        assert p.returncode == 7 and "65535" in p.stderr, (p.returncode, p.stderr)
        p = run([npusim, "run", bench, "--no-trace", "--bursts=1", "--backend=vulkan"])
        assert p.returncode == 0, p.stderr
    # a bad value of a knob is a usage error naming it
    for knob, bad in (("NPUSIM_VK_UNITS", "sometimes"), ("NPUSIM_VK_BINS", "maybe"),
                      ("NPUSIM_VK_FILL_GROUPS", "many"), ("NPUSIM_VK_DYN_RANGES", "5"),
                      ("NPUSIM_VK_BIN_SHIFT", "4"), ("NPUSIM_VK_BANDS", "yes"),
                      ("NPUSIM_VK_BAND_SHIFT", "5"), ("NPUSIM_VK_ROUTE_WG", "2048"), ("NPUSIM_VK_ROUTE_WG", "96"),
                      ("NPUSIM_VK_ROUTE_GROUPS", "-1")):
        p = run(base + ["--backend=vulkan"], env={knob: bad})
        assert p.returncode == 2 and knob in p.stderr, (knob, p.returncode, p.stderr)
    for knob in ("NPUSIM_VK_UNITS", "NPUSIM_VK_BINS", "NPUSIM_VK_BANDS"):
        for mode in ("on", "off", "auto"):
            p = run(base + ["--backend=vulkan"], env={knob: mode})
            assert p.returncode == 0, (knob, mode, p.stderr)

    # A device that does not exist: unavailable, with the count.
    p = run(base + ["--backend=vulkan", "--device=99"])
    assert p.returncode == NPU_E_BACKEND, (p.returncode, p.stderr)
    assert "no device 99" in p.stderr, p.stderr

    # No driver at all: unavailable, saying so; auto falls back to the CPU.
    nodrv = {"VK_DRIVER_FILES": "/nonexistent/icd.json", "VK_ICD_FILENAMES": "/nonexistent/icd.json"}
    p = run(base + ["--backend=vulkan"], nodrv)
    assert p.returncode == NPU_E_BACKEND, (p.returncode, p.stderr)
    assert "vulkan" in p.stderr.lower(), p.stderr
    p = run(base + ["--backend=auto"], nodrv)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["backend"] == "cpu"

    # A device without 64-bit integers or 64-bit atomics (simulated): refused
    # with the feature named, and never picked by auto.
    for feature, said in (("shaderInt64", "shaderInt64"),
                          ("shaderBufferInt64Atomics", "shaderBufferInt64Atomics"),
                          ("subgroupBallot", "subgroup ballot")):
        hide = {"NPUSIM_VK_HIDE_FEATURES": feature}
        p = run(base + ["--backend=vulkan"], hide)
        assert p.returncode == NPU_E_BACKEND and said in p.stderr, (feature, p.returncode, p.stderr)
        p = run(base + ["--backend=vulkan", "--device=0"], hide)
        assert p.returncode == NPU_E_BACKEND and said in p.stderr, (feature, p.returncode, p.stderr)
        p = run(base + ["--backend=auto"], hide)
        assert p.returncode == 0 and json.loads(p.stdout)["backend"] == "cpu", p.stderr

    # Out of device memory (simulated by a limit): refused before the run,
    # with the numbers, exit 7, and no trace left behind.
    p = run(base + ["--backend=vulkan", "--max-device-memory=64K"])
    assert p.returncode == 7 and "limit" in p.stderr, (p.returncode, p.stderr)

    # auto never picks a software device such as lavapipe.
    if all(d["type"] not in ("discrete", "integrated") for d in usable):
        p = run(base + ["--backend=auto"])
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["backend"] == "cpu", p.stdout
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
