"""Policy facts: what the target system provides, from generated data.

`manylinux` reads auditwheel's policy JSON, `backends` the kernel backend
policy, `glibc_symbols` and `stable_abi` the generated tables in `policies/`
(loaded through `data`).
"""
