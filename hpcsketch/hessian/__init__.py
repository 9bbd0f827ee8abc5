"""Loss-Hessian spectrum measurements: HVPs across ranks, Lanczos, stochastic Lanczos quadrature, kappa.

``hvp`` (the data-parallel Hessian-vector product), ``lanczos`` (top eigenvalues),
``slq`` (spectral density and sum |lambda_i|), ``measure`` (one measurement),
``hook`` (the runner's [hessian] measurements) and ``cli`` (``hpcsketch hessian``).
"""
