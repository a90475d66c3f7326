"""The boundary with what a submission controls: its files (`intake`) and its code (`submission`,
`sandbox`, `worker`, `wire`, `tensor_driver`), the confinement and limits of the workers
(`confine`, `worker_tree`) and the machine locks of a batch (`machine`).

It imports nothing else of the kit but the course's data (dlgrade.assignments: the modules of each
assignment, and from its manifest the packages it forbids and its worker's limits), and the
sandboxed worker runs a copy of the modules it needs (`sandbox._WORKER_MODULES`) with nothing else
of the kit. See tests/test_layers.py for the layers.
"""
