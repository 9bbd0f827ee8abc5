"""Problems: one file each, one line each in ``REGISTRY``."""

from hpcsketch.registry import Registry

REGISTRY = Registry("problem", {})
