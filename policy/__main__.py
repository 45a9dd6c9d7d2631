"""TAP's CrossGuard policy pack: `pulumi preview --policy-pack policy`.

The rules themselves live in tap_tooling/rules.py, shared with the offline plan (`deploy.py plan`);
this folder only wraps them for the engine.
"""

import sys
from pathlib import Path

# Pulumi runs a pack from its own folder, where the repository's `tap` package is not
# importable unless the project is pip-installed: put the repository root on the path so the
# pack always applies the rules of the checkout it sits in.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossguard import policies
from pulumi_policy import PolicyPack

PolicyPack(name="tap-policies", policies=policies())
