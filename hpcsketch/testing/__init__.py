"""Test support that ships with the package: a CuPy stand-in for machines without a
GPU (:mod:`hpcsketch.testing.fake_cupy`) and CUDA compile checks that need no GPU
(:mod:`hpcsketch.testing.cuda_compile`). Nothing here is imported by a normal run."""
