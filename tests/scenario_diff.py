#!/usr/bin/env python3
"""Runs every scenario in scenarios/ on the CPU and on Vulkan (with the
Khronos validation layer) and requires `npusim diff` to find no difference.
Exits 77 (skip) when this machine has no usable Vulkan device.

usage: scenario_diff.py NPUSIM SCENARIO_DIR [MAX_BURSTS_FOR_LARGE]
"""
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77
RESOURCE = 7
# Networks this big run only a few bursts here: lavapipe runs on the CPU.
BIG_NEURONS = 200_000


def main():
    npusim, scen_dir = sys.argv[1], sys.argv[2]
    big_bursts = sys.argv[3] if len(sys.argv) > 3 else "3"
    dev = subprocess.run([npusim, "devices", "--json"], capture_output=True, text=True)
    try:
        usable = [d for d in json.loads(dev.stdout) if d.get("usable")]
    except ValueError:
        usable = []
    if dev.returncode != 0 or not usable:
        print("no usable Vulkan device: skipping")
        return SKIP

    passed = failed = skips = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(scen_dir)):
            if not name.endswith(".ini"):
                continue
            path = os.path.join(scen_dir, name)
            net = subprocess.run([npusim, "run", path, "--no-trace", "--bursts=0", "--json", "--quiet",
                                  "--backend=cpu"], capture_output=True, text=True)
            extra = []
            if net.returncode == 0 and json.loads(net.stdout)["neurons"] >= BIG_NEURONS:
                extra = ["--bursts=" + big_bursts]
            traces = {}
            ok = True
            skipped = False
            for backend in ("cpu", "vulkan"):
                out = os.path.join(tmp, f"{name}.{backend}.trace")
                args = [npusim, "run", path, "--backend=" + backend, "--out=" + out, "--quiet"] + extra
                if backend == "vulkan":
                    args.append("--validate")
                r = subprocess.run(args, capture_output=True, text=True)
                if backend == "vulkan" and r.returncode == RESOURCE:
                    # The device's own limits refuse the network (lavapipe allows
                    # 128 MiB per buffer): a limit, reported, not a mismatch.
                    print(f"skip {name}: {r.stderr.strip()}")
                    skipped = True
                    break
                if r.returncode != 0:
                    print(f"FAIL {name} on {backend}: exit {r.returncode}: {r.stderr.strip()}")
                    ok = False
                traces[backend] = out
            if skipped:
                skips += 1
                continue
            if ok:
                d = subprocess.run([npusim, "diff", traces["cpu"], traces["vulkan"]],
                                   capture_output=True, text=True)
                ok = d.returncode == 0
                print(("ok  " if ok else "FAIL ") + name + " " + " ".join(extra) + "\n    "
                      + d.stdout.strip().replace("\n", "\n    "))
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed, {skips} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
