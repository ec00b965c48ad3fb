"""Print every cdk-nag acknowledgement in the synthesized templates, grouped by rule (make nag).

python -m infra.nag_report [cdk.out]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def acknowledgements(template: dict[str, object]) -> list[tuple[str, str, str]]:
    """(rule id, reason, logical id) for every acknowledgement written into resource Metadata."""
    found = []
    resources = template.get("Resources", {})
    assert isinstance(resources, dict)
    for logical_id, resource in resources.items():
        rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        found += [(rule["id"], rule["reason"], logical_id) for rule in rules]
    return found


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    for path in sorted(out.glob("*.template.json")):
        by_rule: dict[tuple[str, str], list[str]] = defaultdict(list)
        for rule, reason, logical_id in acknowledgements(json.loads(path.read_text())):
            by_rule[(rule, reason)].append(logical_id)
        sys.stdout.write(f"\n{path.name}: {sum(len(v) for v in by_rule.values())} acknowledgements\n")
        for (rule, reason), resources in sorted(by_rule.items()):
            sys.stdout.write(f"- {rule} ({len(resources)}x): {reason}\n")


if __name__ == "__main__":
    main()
