"""How much memory a job needs per rank, from its keys alone, and how much this node has.

Validation calls :func:`check` before anything is allocated: a job whose estimate does
not fit the memory the node's ranks share is refused with one line that names the key
that costs most, e.g. ``[compressor] cols = 134217728: needs about 51.5 GB per rank ...``
(exit 2), instead of being killed by the kernel's OOM killer half-way through (exit 9,
no trace). Nothing here imports torch, mpi4py.MPI or an algorithm, compressor or problem
implementation: every size is a formula in the job's keys (parameter counts of the
built-in models from their layer shapes; data sets from their known sizes). The
formulas follow the code they describe (the allocations in hpcsketch/problems,
algorithms, compressors and recovery), and ``tests/config/test_memory_estimate.py``
holds them against the real models and against the peak RSS of real runs.

What is counted, per rank (the rank that hosts the most clients):

* generated data (quadratic, least squares: every rank generates the whole set in
  float64, with the temporaries of its generation), data sets (every rank holds all of
  the training data), the model's flat parameters, gradients and initial copy;
* activations of a forward/backward pass (``batch_size`` samples), of an evaluation
  block, and of a Hessian-vector product (``[hessian] batch``, double backward);
* the method's vectors (model, momentum, local model, server error, ...) and the
  per-client state of stateful methods (error-feedback residuals, EF21's g_i, SCAFFOLD's
  c_i) times the clients the rank hosts;
* compressor state: count-sketch tables (FetchSGD's momentum and error sketches among
  them) with MPI's temporary copy in an Allreduce, dense Gaussian sketches while they
  are redrawn, transform buffers, gathered payloads of non-linear compressors;
* FIHT's recovery buffers, the Lanczos basis of [hessian] measurements.

The check can be turned off with ``[run] memory_check = false`` or the environment
variable ``HPCSKETCH_MEMORY_CHECK=0`` (for a node whose memory the check misjudges).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

GB = 1e9
#: resident memory of a rank before the job allocates anything (interpreter, NumPy, torch,
#: MPI, h5py, numba's compiled kernels; measured 0.34-0.51 GB here): counted against the node, not in the growth estimate
BASELINE_BYTES = int(0.5 * GB)
#: share of the available memory a job may plan to use (the rest: page cache the OS wants
#: back, the launcher, estimates that are low by a little)
USABLE_FRACTION = 0.9
ENV_SWITCH = "HPCSKETCH_MEMORY_CHECK"
#: the memory this node's ranks may use in all, in bytes (e.g. ``64e9``): for a node whose
#: MemAvailable is not what the job will get (validating on a login node, a scheduler's limit)
ENV_AVAILABLE = "HPCSKETCH_MEMORY_AVAILABLE"


@dataclass
class Item:
    """One allocation (or a group of them that live together)."""

    key: str  # "section.key" the message names when this item costs most
    nbytes: float
    what: str
    hint: str
    host: bool = False  # stays in host memory when the arrays live on a GPU


@dataclass
class Estimate:
    items: list[Item] = field(default_factory=list)
    ranks: int = 1
    clients_per_rank: int = 1
    dim: int = 0

    def add(self, key: str, nbytes: float, what: str, hint: str, host: bool = False) -> None:
        if nbytes > 0:
            self.items.append(Item(key, float(nbytes), what, hint, host))

    def total(self, host_only: bool = False) -> float:
        return sum(i.nbytes for i in self.items if i.host or not host_only)

    def largest(self, host_only: bool = False) -> Item | None:
        items = [i for i in self.items if i.host or not host_only]
        return max(items, key=lambda i: i.nbytes) if items else None

    def summary(self) -> str:
        return ", ".join(f"{i.what} {i.nbytes / GB:.2f} GB" for i in sorted(self.items, key=lambda i: -i.nbytes))


# -- the parameter count of the built-in models ----------------------------------------------------

#: (input shape, classes, training samples, test samples) of the data sets whose size is fixed
DATASETS: dict[str, tuple[tuple[int, ...], int, int, int]] = {
    "digits": ((64,), 10, 1438, 359),
    "breast_cancer": ((30,), 2, 456, 113),
    "cifar10": ((3, 32, 32), 10, 50000, 10000),
}
MNIST1D_LENGTH = 40
DEFAULT_MODELS = {"mnist1d": "mlp", "digits": "logreg", "breast_cancer": "logreg", "cifar10": "cs_resnet"}
TORCH_PROBLEMS = ("mnist1d", "digits", "breast_cancer", "cifar10")
CIFAR_RECORD = 1 + 3 * 32 * 32


def dataset_shape(problem: Mapping[str, Any]) -> tuple[tuple[int, ...], int, int, int]:
    """(input shape, classes, training samples, test samples) of a torch problem's data set."""
    kind = problem["kind"]
    if kind == "mnist1d":
        n = int(problem.get("samples") or 5000)
        return (MNIST1D_LENGTH,), 10, int(n * 0.8), n - int(n * 0.8)
    shape, classes, train, test = DATASETS[kind]
    if kind == "cifar10":
        train, test = _cifar_counts(problem.get("data_path"), train, test)
    return shape, classes, train, test


def _cifar_counts(path: Any, train: int, test: int) -> tuple[int, int]:
    """Images in a cifar-10-batches-bin folder, from its file sizes (the standard set when unreadable)."""
    if not isinstance(path, str) or not path:
        return train, test
    try:
        root = Path(path).expanduser()
        if not (root / "test_batch.bin").exists() and (root / "cifar-10-batches-bin").is_dir():
            root = root / "cifar-10-batches-bin"
        tr = sum((root / f"data_batch_{i}.bin").stat().st_size for i in range(1, 6)) // CIFAR_RECORD
        te = (root / "test_batch.bin").stat().st_size // CIFAR_RECORD
        return int(tr), int(te)
    except (OSError, ValueError):
        return train, test


def _numel(shape: tuple[int, ...]) -> int:
    return int(math.prod(int(s) for s in shape))


def _conv(cin: int, cout: int, k: int, bias: bool = True) -> int:
    return cin * cout * k + (cout if bias else 0)


def _resnet18_dim(cin: int, classes: int) -> int:
    d = _conv(cin, 64, 9, bias=False) + 2 * 64
    c = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for b in range(2):
            s = stride if b == 0 else 1
            d += _conv(c, cout, 9, bias=False) + 2 * cout + _conv(cout, cout, 9, bias=False) + 2 * cout
            if s != 1 or c != cout:
                d += _conv(c, cout, 1, bias=False) + 2 * cout
            c = cout
    return d + 512 * classes + classes


def _cnn_lengths(length: int) -> list[int]:
    out = []
    for k in (5, 3, 3):
        length = (length + 2 - k) // 2 + 1
        out.append(length)
    return out


def model_dim(kind: str, model: str | None, hidden: int = 100) -> int:
    """Parameters of ``model`` on problem ``kind`` (hpcsketch/problems/models.py, from its shapes)."""
    if kind in ("quadratic", "least_squares"):
        raise ValueError("generated problems have [problem] dim")
    if kind == "topk_counterexample":
        return 3
    shape, classes, _, _ = dataset_shape({"kind": kind})
    model = model or DEFAULT_MODELS[kind]
    inp = _numel(shape)
    if model == "mlp":
        return inp * hidden + hidden + hidden * hidden + hidden + hidden * classes + classes
    if model == "logreg":
        return inp * classes + classes
    if model == "cnn":
        ch = 25
        return _conv(1, ch, 5) + 2 * _conv(ch, ch, 3) + ch * _cnn_lengths(shape[-1])[-1] * classes + classes
    if model == "cs_resnet":
        block = 2 * _conv(64, 64, 9) + 4 * 64
        return (_conv(shape[0], 32, 9) + _conv(32, 64, 9) + 8 * block + _conv(64, 64, 9)
                + 64 * 256 + 256 + 256 * classes + classes)
    if model == "resnet18":
        return _resnet18_dim(shape[0], classes)
    raise ValueError(f"unknown model {model!r}")


def _activations(kind: str, model: str, hidden: int) -> tuple[int, int]:
    """(floats a forward pass keeps per sample for backward, largest single layer output per sample)."""
    shape, classes, _, _ = dataset_shape({"kind": kind})
    inp = _numel(shape)
    if model == "mlp":
        return 2 * inp + 4 * hidden + 3 * classes, max(inp, hidden)
    if model == "logreg":
        return 2 * inp + 3 * classes, inp
    if model == "cnn":
        per = [25 * n for n in _cnn_lengths(shape[-1])]
        return 2 * inp + 2 * sum(per) + 3 * classes, max(per)
    if model == "cs_resnet":
        h = shape[-1]
        c1, c2 = 32 * (h - 2) ** 2, 64 * (h - 4) ** 2
        p = 64 * ((h - 4) // 3) ** 2
        c3 = 64 * max(1, (h - 4) // 3 - 2) ** 2
        # input (stored bytes, standardised copy), conv1/conv2 and their ReLUs, the pool,
        # eight blocks of conv, BN, ReLU, conv, BN, add, ReLU, conv3 and its ReLU, the head
        return 2 * inp + 2 * c1 + 2 * c2 + p + 8 * 7 * p + 2 * c3 + 2 * 64 + 3 * 256 + 3 * classes, max(c1, c2)
    if model == "resnet18":
        h = shape[-1]
        total = 2 * inp + 3 * 64 * h * h
        c, size = 64, h
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            size = size // stride
            for b in range(2):
                short = (b == 0 and (stride != 1 or c != cout))
                total += (7 + (2 if short else 0)) * cout * size * size
                c = cout
        return total + 2 * 512 + 3 * classes, 64 * h * h
    return 2 * inp, inp


# -- the estimate ----------------------------------------------------------------------------------


def _get(sec: Mapping[str, Any], key: str, default: Any) -> Any:
    v = sec.get(key) if hasattr(sec, "get") else None
    return default if v is None else v


def _count(value: Any, total: int) -> int:
    """A number_or_fraction key as a count (fractions of ``total`` round up)."""
    if value is None:
        return total
    if isinstance(value, float) and value <= 1.0:
        return max(1, int(math.ceil(value * total)))
    return int(value)


def problem_dim(sections: Mapping[str, Mapping[str, Any]]) -> int:
    p = sections["problem"]
    kind = p["kind"]
    if kind in ("quadratic", "least_squares"):
        return int(_get(p, "dim", 100))
    return model_dim(kind, p.get("model"), int(_get(p, "hidden", 100)))


def _indegree(topology: Mapping[str, Any], ranks: int) -> int:
    """Neighbours a node hears from in a round (bounds the neighbour-allgather receive buffer)."""
    if ranks <= 1:
        return 0
    kind = topology.get("kind", "ring")
    per = {"ring": 2, "torus": 4, "one_peer_exponential": 1, "exponential": max(1, math.ceil(math.log2(ranks))),
           "random_regular": int(_get(topology, "degree", 3))}
    return min(ranks - 1, per.get(kind, ranks - 1))


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def estimate(sections: Mapping[str, Mapping[str, Any]], world_size: int | None = None) -> Estimate:
    """Bytes the job allocates on its busiest rank, item by item (``sections``: a Job's sections)."""
    P = max(1, int(world_size or 1))
    prob, clients, algo, comp, hess = (sections[s] for s in ("problem", "clients", "algorithm", "compressor", "hessian"))
    run = sections["run"]
    kind = prob["kind"]
    n = int(clients["count"])
    hosted = -(-n // P)
    sampled = n if float(clients.get("participation", 1.0)) >= 1.0 else max(1, int(round(float(clients["participation"]) * n)))
    sampled_here = min(hosted, sampled)
    d = problem_dim(sections)
    est = Estimate(ranks=P, clients_per_rank=hosted, dim=d)
    torch_problem = kind in TORCH_PROBLEMS
    it = 4 if torch_problem or _get(prob, "dtype", "float64") == "float32" else 8
    if kind == "topk_counterexample":
        it = 8 if _get(prob, "dtype", "float64") == "float64" else 4
    vec = d * it

    # -- the problem's data and model ---------------------------------------------------------
    if kind == "quadratic":
        h = float(_get(prob, "hessian_heterogeneity", 0.5))
        d2 = 8.0 * d * d
        # homogeneous: the Gaussian, the copy QR factors, Q, R, the sign-fixed Q, then the products
        # that form the mean Hessian and the copy np.linalg.solve factors (measured peak growth:
        # 5.0 d^2 doubles at d = 3072); float32 runs add their two copies
        own = 5.5 * d2 + (2 * 4.0 * d * d if it == 4 else 0.0)
        if h != 0 and n > 1:
            # the Wishart draws Z_i, M_i and the products that make L_i (n d^2 doubles each), kept L_i
            own += 5.0 * n * d2 + (4.0 * n * d * d if it == 4 else 0.0)
            est.add("problem.dim", own + 4.0 * n * d * 8, f"quadratic data ({n} clients x {d}^2 Hessians, float64, "
                    "and the temporaries that generate them)", "use a smaller dim, fewer clients or hessian_heterogeneity = 0",
                    host=True)
        else:
            est.add("problem.dim", own + 4.0 * n * d * 8, f"quadratic data ({d}^2 mean Hessian, float64, and the "
                    "temporaries that generate it)", "use a smaller dim", host=True)
    elif kind == "least_squares":
        m = int(_get(prob, "rows", 100))
        nmd = 8.0 * n * m * d
        # A (float64) and the product that scales it, or A and LAPACK's copy in lstsq (measured peak
        # growth: 2.0 n m d doubles); A^T A and its scaled copy; a float32 copy
        own = 2.5 * nmd + 3 * 8.0 * d * d + (0.5 * nmd if it == 4 else 0.0)
        est.add("problem.rows", own, f"least-squares data ({n} clients x {m} rows x dim {d}, float64, and the copies "
                "that generate and solve it)", "use fewer rows, a smaller dim or fewer clients", host=True)
    elif torch_problem:
        shape, classes, train, test = dataset_shape(prob)
        inp = _numel(shape)
        model = prob.get("model") or DEFAULT_MODELS[kind]
        hidden = int(_get(prob, "hidden", 100))
        if kind == "cifar10":
            # uint8 pixels: the five files, their concatenation, the copy in client order, and
            # the float64 channel (with std's temporary) the statistics are taken over
            data = 3.0 * train * inp + 2.0 * test * inp + 2 * 8.0 * train * inp / 3
            key, hint = "problem.data_path", "use a smaller data set"
        else:
            # generated / loaded in float64, standardised to float32, reordered by client
            data = (8.0 + 4.0 + 4.0) * (train + test) * inp * (2.0 if kind == "mnist1d" else 1.0)
            key, hint = ("problem.samples", "use fewer samples") if kind == "mnist1d" else ("problem.kind", "")
        est.add(key, data, f"data set ({train} training and {test} test samples of {inp} values)", hint, host=True)
        dkey, dhint = (("problem.hidden", "use fewer hidden units") if model == "mlp" and kind == "mnist1d"
                       else ("problem.model", "use a smaller model"))
        # flat parameters, gradients, the initial copy, and the module's own parameters while it is built
        est.add(dkey, 4.0 * vec, f"model ({d} parameters: flat parameters, gradients, initial copy)", dhint)
        kept, widest = _activations(kind, model, hidden)
        bs = int(_get(prob, "batch_size", 32))
        client_share = -(-train // n)
        bs = client_share if bs == 0 or bs > client_share else bs
        # a training step, an evaluation block and a Hessian-vector product come one after another:
        # the largest of them counts. Training: saved activations, BatchNorm's saved statistics and
        # backward's gradients of them; evaluation (no autograd): a few layer outputs at a time
        passes = [(2.0 * 4 * bs * kept, "problem.batch_size", f"activations of a {bs}-sample minibatch",
                   "use a smaller batch_size")]
        eval_rows = min(500 if kind == "cifar10" else 1000, max(1, -(-test // P)))
        passes.append((4.0 * 4 * eval_rows * widest, "problem.model", f"evaluation blocks of {eval_rows} samples",
                       "use a smaller model"))
        if hess.get("rounds") or hess.get("every"):
            per_client = _count(hess.get("data", 1.0), client_share)
            share = -(-min(train, per_client * n) // P)
            hb = int(_get(hess, "batch", 1000))
            hb = share if hb == 0 or hb > share else hb
            # double backward keeps the forward graph and the graph of the gradient (measured: 8.1 bytes
            # per kept float, cs_resnet over 100 samples)
            passes.append((3.0 * 4 * hb * kept, "hessian.batch", f"Hessian-vector products over {hb} samples "
                           "(double backward)", "use a smaller [hessian] batch"))
        nbytes, key, what, hint = max(passes)
        est.add(key, nbytes, what, hint)
    else:  # topk_counterexample and anything tiny
        est.add("problem.kind", 64.0 * vec, "problem data", "")

    # -- the method's vectors and per-client state ----------------------------------------------
    a = algo["kind"]
    ckind = comp.get("kind", "none")
    momentum = float(_get(algo, "momentum", 0.0)) > 0
    vectors = 3.0  # x, the gradient it is combined with, an update temporary
    per_client = 0.0
    per_client_what = ""
    if a == "psgd":
        vectors += 1 + momentum
    elif a == "compressed_sgd":
        vectors += 2 + momentum
    elif a == "ef_sgd":
        vectors += 3
        if _get(algo, "error_feedback", True):
            per_client, per_client_what = 1.0, "error-feedback residuals"
    elif a == "ef21":
        vectors += 3
        per_client, per_client_what = 1.0, "EF21's g_i"
    elif a == "sketch_dl":
        vectors += 3 + (1 if algo.get("top_r") is not None and _get(algo, "error_feedback", True) else 0)
    elif a == "fetchsgd":
        vectors += 2 + (1 if int(_get(algo, "local_steps", 1)) > 1 else 0) + 2  # heavy hitters: estimates and their order
    elif a == "cs_sgd":
        vectors += 2 + 4  # FIHT: Phi^T residual, g and g_prev, w
    elif a == "local_sgd":
        vectors += 3
        if _get(algo, "error_feedback", True) and ckind != "none":
            per_client, per_client_what = 1.0, "error-feedback residuals"
    elif a in ("scaffold", "scaffold_m"):
        vectors += 6 + (1 if a == "scaffold_m" else 0)
        per_client, per_client_what = 1.0, "SCAFFOLD's control variates c_i"
    elif a == "fedavg_m":
        vectors += 4
    elif a in ("dsgd", "choco_sgd"):
        vectors += 3 + momentum + (2 if a == "choco_sgd" else 0)
        indeg = _indegree(sections.get("topology", {}), P)
        if a == "dsgd" or ckind == "none":
            est.add("topology.kind", 2.0 * indeg * vec, f"models of {indeg} neighbours", "use a sparser topology")
    elif a == "ist":
        vectors += 2
        sk = _get(algo, "sketch", "perm_q")
        if sk == "identity":
            gathered = sampled * d
        elif sk == "rand_q":
            gathered = sampled * _count(algo.get("q"), d) if algo.get("q") is not None else sampled * -(-d // max(1, sampled))
        else:
            gathered = d
        est.add("algorithm.sketch", 2.0 * gathered * it, f"gathered client blocks ({gathered} values)",
                "use another sketch or fewer clients per round")
    est.add("algorithm.kind", vectors * vec, f"{a}'s vectors ({int(vectors)} of {d})", "use a smaller model")
    if per_client:
        est.add("clients.count", per_client * hosted * vec, f"{per_client_what} of the {hosted} clients a rank hosts",
                "use fewer clients per rank (more ranks) or a smaller model")

    # -- the compressor -------------------------------------------------------------------------
    if ckind == "count_sketch":
        rows = int(_get(comp, "rows", 5))
        cols = int(_get(comp, "cols", 0)) or max(1, int(round(d / (float(_get(comp, "ratio", 10.0)) * rows))))
        table = 4.0 * rows * cols
        # the payload (measured: one table's worth of growth on one rank), MPI's temporary copy in an
        # Allreduce on several ranks, the copy a client-compressed payload is summed into (error
        # feedback, EF21); FetchSGD adds its momentum and error sketches and the scaled copy of S_u
        tables = 1 + (1 if P > 1 else 0) + (1 if a in ("ef_sgd", "ef21", "local_sgd") else 0) + (3 if a == "fetchsgd" else 0)
        if a == "choco_sgd":
            tables = 2 + _indegree(sections.get("topology", {}), P)
        key = "compressor.cols" if int(_get(comp, "cols", 0)) else "compressor.ratio"
        est.add(key, tables * table + rows * 2 ** 19 + 2 ** 20,
                f"count sketch tables ({tables} of {rows} x {cols} float32)",
                "use fewer cols or rows" if key == "compressor.cols" else "use a larger ratio or fewer rows")
        est.add("compressor.kind", 2.0 * vec, "desketched vectors", "")
    elif ckind == "gaussian":
        b = max(1, min(d, int(round(d / float(_get(comp, "ratio", 10.0))))))
        # the matrix in use and, while it is redrawn, the new draw, its scaled copy and its cast
        # (measured peak growth: 3.0 matrices)
        est.add("compressor.ratio", 3.5 * 4 * b * d, f"dense Gaussian sketches ({b} x {d} float32)", "use a larger ratio")
    elif ckind in ("subsampled_wht", "subsampled_dct"):
        padded = _next_pow2(d) if ckind == "subsampled_wht" else d
        q = max(1, min(padded, int(round(d / float(_get(comp, "ratio", 10.0))))))
        est.add("compressor.kind", 4.0 * padded * 8 + 8.0 * q * 8, f"transform buffers ({padded} values) and rows", "")
    elif ckind in ("topk", "randk", "qsgd", "sign"):
        k = _count(comp.get("k", 0.01), d) if ckind in ("topk", "randk") else d
        if ckind in ("topk", "randk"):
            payload = 8.0 * min(k, d)
        elif ckind == "qsgd":
            payload = d * (1 + math.ceil(math.log2(int(_get(comp, "levels", 16)) + 1))) / 8 + 8
        else:
            payload = d / 8 + 8
        gathered = sampled if a not in ("dsgd", "choco_sgd") else _indegree(sections.get("topology", {}), P) + 1
        # an Allgatherv of every sampled client's payload: the frame, the received copy, the views
        # and sums of unframing (measured with top-k: 3 payloads' worth)
        est.add("clients.participation" if sampled < n else "clients.count", 3.0 * gathered * payload,
                f"gathered payloads of {gathered} clients", "use fewer clients per round or a smaller k")
        est.add("compressor.kind", 3.0 * d * 8, "selection and decompression buffers", "")
    elif ckind == "none" and a in ("psgd", "compressed_sgd", "ef_sgd", "ef21", "local_sgd", "fedavg_m", "sketch_dl"):
        est.add("compressor.kind", 2.0 * vec, "payload and its MPI copy", "")

    # -- measurements ---------------------------------------------------------------------------
    if hess.get("rounds") or hess.get("every"):
        steps = min(int(_get(hess, "lanczos_steps", 64)), d)
        est.add("hessian.lanczos_steps", (steps + 4.0) * vec, f"Lanczos basis ({steps} x {d})", "use fewer lanczos_steps")
    return est


# -- what the node has -----------------------------------------------------------------------------


@dataclass
class Budget:
    nbytes: float  # what the ranks of this node may use in all
    ranks: int  # ranks that share it
    source: str  # where the number came from

    @property
    def per_rank(self) -> float:
        return self.nbytes / max(1, self.ranks)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def mem_available() -> float | None:
    text = _read("/proc/meminfo")
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return float(line.split()[1]) * 1024
    return None


def cgroup_available() -> float | None:
    """Memory this process's cgroup may still take (limit - usage + reclaimable file cache), if limited."""
    text = _read("/proc/self/cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if hier == "0" and controllers == "":  # cgroup v2
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
            best = None
            for d in [base, *base.parents]:  # the tightest limit on the way up
                if not str(d).startswith("/sys/fs/cgroup"):
                    break
                limit = _read(str(d / "memory.max"))
                usage = _read(str(d / "memory.current"))
                if limit is None or usage is None or limit.strip() == "max":
                    continue
                free = float(limit) - float(usage) + _stat(d / "memory.stat", "inactive_file")
                best = free if best is None else min(best, free)
            return best
        if "memory" in controllers.split(","):  # cgroup v1
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            limit = _read(str(base / "memory.limit_in_bytes"))
            usage = _read(str(base / "memory.usage_in_bytes"))
            if limit is None or usage is None or float(limit) >= 2 ** 60:
                return None
            return float(limit) - float(usage) + _stat(base / "memory.stat", "total_inactive_file")
    return None


def _stat(path: Path, key: str) -> float:
    for line in (_read(str(path)) or "").splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            try:
                return float(v)
            except ValueError:
                return 0.0
    return 0.0


def _rlimit() -> float | None:
    """The soft address-space / data limit a rank would inherit, less what a rank maps before
    the job allocates (torch, MPI and the interpreter map about 1.5 GB of address space)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    out = None
    for name, reserved in (("RLIMIT_AS", 1.5 * GB), ("RLIMIT_DATA", 0.6 * GB)):
        soft = resource.getrlimit(getattr(resource, name))[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            v = max(0.0, soft - reserved)
            out = v if out is None else min(out, v)
    return out


_ELSEWHERE: contextvars.ContextVar[bool] = contextvars.ContextVar("hpcsketch_memory_elsewhere", default=False)


@contextlib.contextmanager
def ranks_run_elsewhere() -> Iterator[None]:
    """No memory check while validating here: the ranks will run on other nodes (``hpcsketch
    slurm`` on a login node), and check again there, with their node's memory and local size."""
    token = _ELSEWHERE.set(True)
    try:
        yield
    finally:
        _ELSEWHERE.reset(token)


def local_ranks(world_size: int | None) -> tuple[int, str]:
    """Ranks that share this node: inside a launcher, the local size it reports; outside one,
    the ``-n`` ranks (all started on this node)."""
    from hpcsketch import launchers  # no mpi4py.MPI: the launcher's environment only

    launcher = launchers.detect()
    if launcher is not None:
        v = os.environ.get(launcher.local_size, "").split("(")[0]
        if v.isdigit() and int(v) > 0:
            return int(v), launcher.local_size
        tasks = os.environ.get("SLURM_TASKS_PER_NODE", "")  # e.g. "4(x2),3"
        head = tasks.split(",")[0].split("(")[0]
        if head.isdigit() and int(head) > 0:
            return int(head), "SLURM_TASKS_PER_NODE"
    return max(1, int(world_size or 1)), "-n" if world_size else "one rank"


def node_budget(world_size: int | None) -> Budget | None:
    """The memory this node's ranks share: MemAvailable, or the cgroup's room if less; None if unknown."""
    ranks, how = local_ranks(world_size)
    given = os.environ.get(ENV_AVAILABLE, "").strip()
    if given:
        try:
            value = float(given)
        except ValueError:
            value = -1.0
        if value > 0 and math.isfinite(value):
            return Budget(value, ranks, ENV_AVAILABLE)
    avail = mem_available()
    source = "MemAvailable"
    cg = cgroup_available()
    if cg is not None and (avail is None or cg < avail):
        avail, source = cg, "the cgroup's memory.max"
    if avail is None:
        return None
    rl = _rlimit()
    if rl is not None and rl * ranks < avail:
        avail, source = rl * ranks, "the address-space limit (ulimit -v / -d)"
    return Budget(avail, ranks, source)


def gpu_backend(run: Mapping[str, Any]) -> bool:
    """True when the arrays will live on a GPU (their size is then the device's business)."""
    backend = run.get("backend", "auto")
    if backend == "numpy":
        return False
    if backend == "cupy":
        return True
    import importlib.util

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidiactl").exists() and importlib.util.find_spec("cupy") is not None


def enabled(run: Mapping[str, Any]) -> bool:
    if os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return bool(run.get("memory_check", True))


def check(sections: Mapping[str, Mapping[str, Any]], world_size: int | None = None) -> tuple[str, str] | None:
    """``(section.key, message)`` when the job does not fit the memory of this node's ranks, else None."""
    if not enabled(sections["run"]) or _ELSEWHERE.get():
        return None
    budget = node_budget(world_size)
    if budget is None:
        return None
    host_only = gpu_backend(sections["run"])
    est = estimate(sections, world_size)
    need = est.total(host_only) + BASELINE_BYTES
    if need <= USABLE_FRACTION * budget.per_rank:
        return None
    top = est.largest(host_only)
    if top is None:
        return None
    ranks = f"{budget.ranks} rank{'s' if budget.ranks != 1 else ''}"
    msg = (f"needs about {need / GB:.1f} GB per rank ({top.what}: {top.nbytes / GB:.1f} GB), this node has "
           f"{budget.nbytes / GB:.1f} GB available ({budget.source}) for {ranks}")
    if top.hint:
        msg += f"; {top.hint}"
    msg += f" (or set [run] memory_check = false, or {ENV_SWITCH}=0, if you know it fits)"
    return top.key, msg
