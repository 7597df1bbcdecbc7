# SPDX-License-Identifier: BSD-2-Clause
"""ECS event bodies as the collector stores them: shared by the scenarios."""


def get(obj, dotted):
    """ECS field by dotted name, nested ({"a":{"b":1}}) or flat ({"a.b":1}) or mixed."""
    if not isinstance(obj, dict):
        return None
    if dotted in obj:
        return obj[dotted]
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in obj:
            v = get(obj[head], ".".join(parts[i:]))
            if v is not None:
                return v
    return None
