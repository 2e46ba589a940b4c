//! Owner of the workspace-level examples, tests and benchmarks; nothing to use here.
