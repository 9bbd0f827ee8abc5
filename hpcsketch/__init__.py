"""hpcsketch: a benchmarking harness for communication-efficient distributed learning.

Layers point one way: kernels -> compressors -> comm -> algorithms -> runner -> tracing -> analysis.
"""

__version__ = "0.1.0"
