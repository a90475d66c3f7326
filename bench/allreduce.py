"""Bandwidth of a ring all-reduce (the solution's, or a student's) against torch's own all_reduce.

For each world size and tensor size, both run on the same fresh process group (one forked process
per rank): gloo on loopback on the CPU, and NCCL with one rank per GPU where there are two GPUs or
more (listed as skipped, with the reason, where there are not). Reported as the median time of a
call, the algorithm bandwidth (bytes of the tensor / time) and the bus bandwidth
busbw = algbw * 2(n-1)/n (the nccl-tests definition: what each link carries), and the ratio of
the ring's bus bandwidth to torch's. Prints a table and writes JSON (default
bench/results/allreduce.json).

    python bench/allreduce.py [--path assignments/a7_distributed/parallel.py] [--world-sizes 2 4]
                              [--sizes 1024 65536 1048576] [--iters 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dlgrade.assignments import ASSIGNMENTS_DIR
from results_file import write_results

DEFAULT_PATH = ASSIGNMENTS_DIR / "a7_distributed" / "parallel.py"


def load_ring(path: Path):
    """The ring_allreduce function of the module at `path`."""
    spec = importlib.util.spec_from_file_location("bench_parallel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ring_allreduce


def _rank(ring, rank: int, n: int, store: str, backend: str, sizes: list[int], iters: int) -> dict:
    """In one rank: time the ring and dist.all_reduce on each size; the slowest rank's medians."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    device = torch.device(f"cuda:{rank}" if backend == "nccl" else "cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, store=dist.FileStore(store, n), rank=rank, world_size=n,
                            timeout=timedelta(seconds=60))

    def timed(op, tensor) -> float:
        times = []
        for i in range(iters + 1):  # the first call warms up
            dist.barrier()
            if backend == "nccl":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            op(tensor)
            if backend == "nccl":
                torch.cuda.synchronize(device)
            if i:
                times.append(time.perf_counter() - start)
        slowest = torch.tensor([statistics.median(times)], dtype=torch.float64, device=device)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        return float(slowest.item())

    out = {}
    for size in sizes:
        tensor = torch.ones(size, dtype=torch.float32, device=device)
        out[str(size)] = {"ring": timed(ring, tensor.clone()), "torch": timed(dist.all_reduce, tensor.clone())}
    dist.destroy_process_group()
    return out


def run_group(ring, n: int, backend: str, sizes: list[int], iters: int) -> dict:
    """Fork `n` ranks, run `_rank` in each, and return rank 0's timings."""
    fd, store = tempfile.mkstemp(prefix="dlgrade-bench-")
    os.close(fd)
    os.unlink(store)
    read_end, write_end = os.pipe()
    pids = []
    for rank in range(n):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(read_end)
                result = _rank(ring, rank, n, store, backend, sizes, iters)
                if rank == 0:
                    os.write(write_end, json.dumps(result).encode())
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
    if os.path.exists(store):
        os.unlink(store)
    if failed or not data:
        raise RuntimeError(f"{backend} group of {n} ranks failed")
    return json.loads(data)


def _gpus() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="the parallel.py to benchmark")
    parser.add_argument("--world-sizes", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1 << 10, 1 << 16, 1 << 20],
                        help="tensor sizes in float32 elements")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "allreduce.json")
    args = parser.parse_args()

    ring = load_ring(args.path)
    rows, skipped = [], []
    gpus = _gpus()
    for backend in ("gloo", "nccl"):
        for n in args.world_sizes:
            if backend == "nccl" and gpus < n:
                skipped.append({"backend": backend, "world_size": n,
                                "reason": f"needs {n} CUDA GPUs, this machine has {gpus}"})
                continue
            timings = run_group(ring, n, backend, args.sizes, args.iters)
            for size in args.sizes:
                nbytes = size * 4
                t = timings[str(size)]
                row = {"backend": backend, "world_size": n, "elements": size, "bytes": nbytes}
                for who in ("ring", "torch"):
                    algbw = nbytes / t[who] / 1e9
                    row[f"{who}_s"] = t[who]
                    row[f"{who}_algbw_GBps"] = algbw
                    row[f"{who}_busbw_GBps"] = algbw * 2 * (n - 1) / n
                row["busbw_ratio"] = row["ring_busbw_GBps"] / row["torch_busbw_GBps"] if n > 1 else None
                rows.append(row)

    table = Table(title=f"ring_allreduce vs torch all_reduce ({args.path.name}, float32, median of {args.iters})")
    for column in ("backend", "ranks", "size", "ring ms", "torch ms", "ring busbw GB/s", "torch busbw GB/s",
                   "ring / torch"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for r in rows:
        ratio = "" if r["busbw_ratio"] is None else f"{r['busbw_ratio']:.2f}"
        table.add_row(r["backend"], str(r["world_size"]), f"{r['bytes'] / 1024:g} KiB", f"{r['ring_s'] * 1e3:.3f}",
                      f"{r['torch_s'] * 1e3:.3f}", f"{r['ring_busbw_GBps']:.3f}", f"{r['torch_busbw_GBps']:.3f}", ratio)
    for s in skipped:
        table.add_row(s["backend"], str(s["world_size"]), "", "", "", "", "", f"skipped: {s['reason']}")
    Console(width=140).print(table)
    write_results(args.out, rows + [{"skipped": True, **s} for s in skipped])


if __name__ == "__main__":
    main()
