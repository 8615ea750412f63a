"""Load each file of a list with the stylegan2 loader, in this process, and report what happened.

Run as `python tests/helpers/stylegan2_hostile_probe.py CASES.json OUT.json`
(CASES: [[name, path], ...]);
the first case is a valid file, loaded twice (the second, warm, load time is the reference).
The address space is then capped at its size + HEADROOM_MB (default 1024), so any large
allocation fails (and shows up as a wrong refusal reason). Per case: the error type and
message, seconds, the growth of peak RSS (VmHWM) over the reference, and, in a second pass
under tracemalloc, the peak of Python allocations.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main(cases_json: str, out_json: str, headroom_mb: int = 1024) -> None:
    import torch

    torch.set_num_threads(1)
    from generators.stylegan2 import load_stylegan2

    def attempt(path: str) -> tuple[str | None, str | None, float]:
        t0 = time.perf_counter()
        try:
            load_stylegan2(path)
            error, message = None, None
        except BaseException as exc:  # report everything, including raw errors
            error, message = type(exc).__name__, str(exc)
        return error, message, time.perf_counter() - t0

    cases = json.loads(open(cases_json).read())
    results = []
    for i, (name, path) in enumerate(cases):
        if i == 0:
            attempt(path)  # cold: first-use costs of torch
        if i == 1:  # after the reference load: cap the address space
            limit = _status_kb("VmSize") * 1024 + headroom_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            base_hwm = _status_kb("VmHWM")
        error, message, seconds = attempt(path)
        tracemalloc.start()
        attempt(path)
        _, py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append(
            {
                "name": name,
                "error": error,
                "message": message,
                "seconds": seconds,
                "rss_growth_mb": (_status_kb("VmHWM") - base_hwm) / 1024 if i else 0.0,
                "python_peak_mb": py_peak / 2**20,
            }
        )
        if i == 0 and error is not None:
            raise SystemExit(f"reference case failed: {error}: {message}")
    with open(out_json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3], *(int(a) for a in sys.argv[3:]))
