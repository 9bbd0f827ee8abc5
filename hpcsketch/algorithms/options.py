"""[algorithm] keys declared by the methods (light: the registry entries refer to them).

A key that several methods read is declared once here so it stays identical.
"""

from hpcsketch.config.options import Option

ERROR_FEEDBACK = Option("error_feedback", "bool", True,
                        "keep what compression dropped and add it back next round (EF / Mem-SGD; server side for FetchSGD and Sketch-DL)")
BETA = Option("beta", "float", 0.2, "FedAvg-M / SCAFFOLD-M weight of the fresh local gradient (1: no momentum)",
              min=0.0, max=1.0, min_exclusive=True)
TOP_R = Option("top_r", "number_or_fraction", None,
               "Sketch-DL: keep only the r largest coordinates after desketching (fraction of d or count; unset: keep all)")
FIHT_ITERS = Option("fiht_iters", "int", 25, "CS-SGD: FIHT iterations at most", min=1, max=1000)
SECOND_ROUND = Option("second_round", "bool", False,
                      "FetchSGD: fetch the exact gradient values of the k heavy coordinates in a second Allreduce")
ERROR_REMOVAL = Option("error_removal", "str", "zero",
                       "FetchSGD: remove the applied update from the error sketch by zeroing its cells (the paper's code) or subtracting its sketch (the paper)",
                       choices=("zero", "subtract"))

# -- keys of one method (the implementation reads their defaults too) ------------------
OVERLAP = Option("overlap", "bool", False, "dsgd: combine-then-adapt with Ineighbor_allgather started before the gradient")
CONSENSUS_LR = Option("consensus_lr", "float", 0.5, "choco_sgd: consensus step size gamma_c (1 with no compression is DSGD)",
                      min=0.0, max=1.0, min_exclusive=True)
COMPRESSOR_SCALE = Option(
    "compressor_scale", "float", 0.0,
    "choco_sgd: factor on decompressed differences; 0 = auto: 1 for contractive compressors, 1/(1 + omega) for unbiased ones",
    min=0.0, max=1.0,
)
#: hpcsketch.diagonal_sketches.KINDS (checked when ist.py is imported)
SKETCH_KINDS = ("perm_q", "perm_q_preconditioned", "rand_q", "identity", "neurons")
SKETCH = Option(
    "sketch", "str", "perm_q",
    "IST: the diagonal sketches C_i: perm_q (disjoint blocks, n q = d), perm_q_preconditioned (Perm-q scaled by "
    "sqrt(n / diag L_i): the seed's preconditioned Perm-1 when n = d), rand_q (independent masks scaled by d / q), "
    "identity (gradient descent), neurons (hidden units of an MLP split over the clients)",
    choices=SKETCH_KINDS,
)
Q = Option("q", "number_or_fraction", None,
           "IST rand_q: coordinates per client (fraction of d or count; unset: d / n, Perm-q's block size)")
