"""The tooling that runs or judges the program: the offline mock harness, the plan (rules,
deploy readiness, cost, diagram, generated docs), the CLI and the operations that talk to the
Pulumi CLI and AWS (ops/). It imports the program's library (`tap`), never the reverse."""
