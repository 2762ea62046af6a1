"""Stage 1, inputs: turn the paths a user gives into objects to read.

`paths` classifies paths and walks directories, `wheel` and `stream` read wheel
members without extracting them (`workshare` spreads the inflating over
cores), `kernel_tree` and `variants` understand kernel-builder `build/` trees,
and `scan` ties them together into one stream of `Artifact`s (`artifact`):
ELF, Mach-O and PE objects alike.
"""
