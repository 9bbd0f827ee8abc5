"""sbatch templates for ``hpcsketch slurm``, installed as package data (``hpcsketch.slurm_templates``)."""
