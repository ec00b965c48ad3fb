"""One construct per concern; `infra.stacks.cradle.CradleStack` wires them together."""
