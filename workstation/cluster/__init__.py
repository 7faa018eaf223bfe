"""Analysis on a Ray cluster: the same per-track jobs as the local worker, one Ray task each.

Imports core, library and analysis; ``ray`` only when a cluster run starts (it is the
optional ``cluster`` extra: ``pip install -e .[cluster]``).
"""

from .driver import INSTALL_HINT, ClusterAddress, import_ray, parse_address, run_on_cluster

__all__ = ["INSTALL_HINT", "ClusterAddress", "import_ray", "parse_address", "run_on_cluster"]
