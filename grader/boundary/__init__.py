"""The boundary with what a submission controls: its files (`intake`) and its code (`submission`,
`sandbox`, `worker`, `wire`, `tensor_driver`), the confinement and limits of the workers
(`confine`, `worker_tree`) and the machine locks of a batch (`machine`).

It imports nothing else of the kit: the course's rules (the modules of each assignment, the
packages each forbids, the limits of its worker) come in as arguments, and the sandboxed worker
runs a copy of the modules it needs (`sandbox._WORKER_MODULES`) with nothing else of the kit.
"""
