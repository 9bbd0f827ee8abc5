"""[algorithm] keys that several methods read (declared once so they stay identical)."""

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
