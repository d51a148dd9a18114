"""System metrics: CPU, memory and GPU use, sampled by the session's writer thread.

    from tfwatcher.record import system
    system.sample()   # {"cpu_percent": 12.5, "memory_percent": 41.0, "memory_gb": 6.6,
                      #  "gpu0_util_percent": 97.0, "gpu0_memory_gb": 30.2}

- `cpu_percent`: system-wide CPU use since the previous sample (or since `prime()`, which a
  `Session` calls when it is built), 0..100; absent from a first sample taken without `prime()`;
- `memory_percent`, `memory_gb`: system memory in use (total minus available; GB = 10^9 bytes);
- `gpu{i}_util_percent`, `gpu{i}_memory_gb`: per NVIDIA GPU, through NVML.

CPU and memory come from `psutil` when it is installed (`pip install tf-watcher[system]`), else
from `/proc` on Linux, else they are absent; GPU values need NVML (`pip install nvidia-ml-py`)
and a GPU. A missing dependency, a missing GPU or a failing call leaves keys out: never an
error, never a warning. A sample is cheap (no waiting: CPU use is measured between samples).
"""

from __future__ import annotations

import math
import threading
import weakref

__all__ = ["sample", "prime", "sampler_for"]

GB = 1e9
_lock = threading.Lock()   # guards the module state below; nothing else is taken while held
_proc_cpu: tuple[float, float] | None = None   # (busy, total) jiffies at the previous /proc read
_primed = False
_nvml = None                # None: not tried yet; False: unavailable; else (module, handles)


def _psutil():
    try:
        import psutil
    except Exception:  # ImportError, or a broken install
        return None
    return psutil


def prime() -> None:
    """Start the CPU measurement, so that the first sample's `cpu_percent` means something
    (psutil's first `cpu_percent(interval=None)` is meaningless). Cheap; never raises."""
    with _lock:
        _prime_locked()


def _prime_locked() -> bool:
    """Prime once (lock held); True if this call did it."""
    global _primed
    if _primed:
        return False
    _primed = True
    try:
        psutil = _psutil()
        if psutil is not None:
            psutil.cpu_percent(interval=None)
        else:
            _read_proc_cpu()
    except Exception:
        pass
    return True


def sample() -> dict[str, float]:
    """One sample of the system metrics available here (see the module's docstring)."""
    with _lock:
        out: dict[str, float] = {}
        first = _prime_locked()  # not primed before: this sample's CPU use would mean nothing
        try:
            _cpu_and_memory(out)
        except Exception:
            pass
        if first:
            out.pop("cpu_percent", None)
        try:
            _gpus(out)
        except Exception:
            pass
        return {k: v for k, v in out.items() if isinstance(v, float) and math.isfinite(v)}


def _cpu_and_memory(out: dict) -> None:
    psutil = _psutil()
    if psutil is not None:
        try:
            out["cpu_percent"] = float(psutil.cpu_percent(interval=None))
        except Exception:
            pass
        try:
            memory = psutil.virtual_memory()
            used = float(memory.total - memory.available)
            out["memory_percent"] = 100.0 * used / memory.total
            out["memory_gb"] = used / GB
        except Exception:
            pass
        return
    cpu = _proc_cpu_percent()
    if cpu is not None:
        out["cpu_percent"] = cpu
    memory = _proc_memory()
    if memory is not None:
        used, total = memory
        out["memory_percent"] = 100.0 * used / total
        out["memory_gb"] = used / GB


def _read_proc_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, and remember them; None elsewhere."""
    global _proc_cpu
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    values = [float(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest and guest_nice are in user/nice)
    values = values[:8]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    total = sum(values)
    previous, _proc_cpu = _proc_cpu, (total - idle, total)
    return previous


def _proc_cpu_percent() -> float | None:
    previous = _read_proc_cpu()
    now = _proc_cpu
    if now is None:
        return None
    busy0, total0 = previous if previous is not None else (0.0, 0.0)  # first read: since boot
    busy, total = now
    if total <= total0:
        return 0.0
    return max(0.0, min(100.0, 100.0 * (busy - busy0) / (total - total0)))


def _proc_memory() -> tuple[float, float] | None:
    """(used, total) bytes of system memory from /proc/meminfo; None elsewhere."""
    try:
        with open("/proc/meminfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    info = {}
    for line in lines:
        name, _, rest = line.partition(b":")
        parts = rest.split()
        if parts:
            try:
                info[name] = float(parts[0]) * 1024  # kB
            except ValueError:
                continue
    total = info.get(b"MemTotal")
    available = info.get(b"MemAvailable")
    if available is None and total is not None:  # kernels before 3.14
        available = sum(info.get(k, 0.0) for k in (b"MemFree", b"Buffers", b"Cached"))
    if not total or available is None:
        return None
    return max(0.0, total - available), total


def _gpus(out: dict) -> None:
    global _nvml
    if _nvml is None:
        _nvml = _init_nvml()
    if not _nvml:
        return
    nvml, handles = _nvml
    for i, handle in enumerate(handles):
        try:
            out[f"gpu{i}_util_percent"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # not supported (a MIG slice, some virtual GPUs)
            pass
        try:
            out[f"gpu{i}_memory_gb"] = float(nvml.nvmlDeviceGetMemoryInfo(handle).used) / GB
        except Exception:
            pass


def _init_nvml():
    """(pynvml, device handles), or False where NVML or a GPU is missing. Tried once."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecated `pynvml` wrapper warns on import
            import pynvml
    except Exception:
        return False
    try:
        pynvml.nvmlInit()
        count = int(pynvml.nvmlDeviceGetCount())
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    except Exception:  # no driver, no GPU
        return False
    return (pynvml, handles) if handles else False


def sampler_for(session):
    """The function a session's writer thread calls every ~10 s while a run is in progress:
    `session._sample_system()`. It holds the session weakly (the writer must not keep it
    alive)."""
    ref = weakref.ref(session)

    def sample_system() -> None:
        target = ref()
        if target is not None:
            target._sample_system()
    return sample_system
