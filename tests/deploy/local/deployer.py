"""A deployer process for the crash test: v1 first, then a v2 canary that holds at 50 %
for a long pause — the test kills this process with SIGKILL during that pause."""

from __future__ import annotations

import sys
from pathlib import Path

from gatekeeper.deploy.executor import RolloutExecutor
from gatekeeper.deploy.local.target import LocalTarget
from gatekeeper.deploy.strategy import CanaryStrategy
from tests.deploy.local.helpers import release, service_config


def main() -> int:
    root = Path(sys.argv[1])
    target = LocalTarget("svc", service_config(), root=root)
    executor = RolloutExecutor(target)
    if target.state.stable is None:
        executor.run(
            release("v1", root), CanaryStrategy.model_validate({"steps": [{"setWeight": 0}]})
        )
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 50}, {"pause": {"duration": 60}}]}
    )
    executor.run(release("v2", root), strategy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
