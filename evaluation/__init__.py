"""Detection quality on public benchmarks (SKAB, NAB) and simulator scenarios.

The scoring follows the published protocols exactly (see ``../shared/bench/README.md``), so our
rows can be printed beside the published tables.
"""
