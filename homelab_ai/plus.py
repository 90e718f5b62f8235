"""The one place homelab-ai imports cdk8s-plus.

cdk8s-plus-27 is no longer maintained upstream; moving to a newer ``cdk8s-plus-3x`` means
changing the import below (and whatever its API renamed), nothing else.
"""

import cdk8s_plus_27 as kplus
from cdk8s_plus_27 import k8s

__all__ = ["k8s", "kplus"]
