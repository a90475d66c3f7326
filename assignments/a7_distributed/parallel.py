"""Data parallelism from its parts, in torch, for assignment a7_distributed.

- ``allreduce(tensors)``: the sum over a list of tensors that stand for devices, in place;
- ``ring_allreduce(tensor)``: the same on a real ``torch.distributed`` process group, with
  point-to-point messages only (``dist.send``/``dist.recv``/``dist.isend``/``dist.irecv``), the
  bandwidth-optimal ring: a reduce-scatter then an all-gather, each rank sending about
  ``2*(n-1)/n`` of the tensor;
- ``split_batch`` and ``data_parallel_step``: one SGD step of data-parallel training.

The checker runs the ring on the gloo backend on CPU (ranks are processes on this machine) and,
where there are two GPUs or more, on NCCL. Collectives (``dist.all_reduce``, ``dist.reduce``,
``dist.broadcast``, ``dist.all_gather``, ...) are not allowed in ``ring_allreduce``.
"""

import torch
import torch.distributed as dist


def allreduce(tensors):
    """Sum a list of same-shape tensors, each on its own device, in place.

    Args:
        tensors: a list of tensors of the same shape and dtype, each on its own device (CPU
            tensors stand for devices where there is no GPU).

    Returns:
        None. Afterwards every tensor of the list (the same tensor objects) holds the elementwise
        sum of all of them, still on its own device.
    """
    ### BEGIN SOLUTION
    if not tensors:
        return None
    total = tensors[0].detach().clone()
    for t in tensors[1:]:
        total += t.detach().to(total.device)
    for t in tensors:
        t.copy_(total.to(t.device))
    return None
    ### END SOLUTION


def ring_allreduce(tensor):
    """Sum ``tensor`` over every rank of the initialised default process group, in place.

    Use point-to-point calls only. Split the flattened tensor into ``n`` chunks (``n`` the world
    size) as equal as possible (any size works, including 0, 1 and sizes not divisible by ``n``).
    Reduce-scatter: for ``n - 1`` steps, rank ``r`` sends one chunk to rank ``(r + 1) % n`` and
    adds the chunk it receives from ``(r - 1) % n`` into its own; afterwards rank ``r`` holds the
    full sum of one chunk. All-gather: ``n - 1`` more steps pass the finished chunks around.

    Args:
        tensor: this rank's tensor (any shape; float32, float64 or int64).

    Returns:
        None; ``tensor`` holds the sum over all ranks, the same on every rank.
    """
    ### BEGIN SOLUTION
    n, rank = dist.get_world_size(), dist.get_rank()
    if n == 1 or tensor.numel() == 0:
        return None
    flat = tensor.view(-1) if tensor.is_contiguous() else tensor.reshape(-1).clone()
    chunks = list(torch.tensor_split(flat, n))
    right, left = (rank + 1) % n, (rank - 1) % n
    incoming = torch.empty_like(chunks[0])

    def exchange(send_index, recv_index):
        buffer = incoming[:chunks[recv_index].numel()]
        request = dist.isend(chunks[send_index].contiguous(), right)
        dist.recv(buffer, left)
        request.wait()
        return buffer

    for step in range(n - 1):  # reduce-scatter
        send_index, recv_index = (rank - step) % n, (rank - step - 1) % n
        chunks[recv_index] += exchange(send_index, recv_index)
    for step in range(n - 1):  # all-gather: rank holds the finished chunk (rank + 1) % n
        send_index, recv_index = (rank + 1 - step) % n, (rank - step) % n
        chunks[recv_index].copy_(exchange(send_index, recv_index))
    if flat.data_ptr() != tensor.data_ptr() or not tensor.is_contiguous():
        tensor.copy_(flat.view(tensor.shape))
    return None
    ### END SOLUTION


def split_batch(X, y, devices):
    """Split a batch into one contiguous shard per device.

    Args:
        X: inputs, shape ``(N, ...)``.
        y: targets, shape ``(N, ...)``.
        devices: a list of ``torch.device`` (one shard each).

    Returns:
        ``(X_shards, y_shards)``: two lists with one tensor per device, in the order of
        ``devices``, each on its device; shard ``i`` holds consecutive examples; the shard sizes
        differ by at most one (the first ``N % len(devices)`` shards get one more), and together
        they hold every example exactly once.
    """
    ### BEGIN SOLUTION
    X_shards = [part.to(device) for part, device in zip(torch.tensor_split(X, len(devices)), devices)]
    y_shards = [part.to(device) for part, device in zip(torch.tensor_split(y, len(devices)), devices)]
    return X_shards, y_shards
    ### END SOLUTION


def data_parallel_step(params_per_device, X, y, devices, lr, loss_fn):
    """One step of data-parallel SGD.

    Args:
        params_per_device: ``params_per_device[i]`` is a list of leaf tensors (``requires_grad``)
            on ``devices[i]``; the replicas are identical.
        X, y: the whole batch (``N`` examples).
        devices: a list of ``torch.device``.
        lr: the learning rate.
        loss_fn: ``loss_fn(params, X_shard, y_shard)`` returns the **summed** loss of a shard.

    Shard the batch with ``split_batch``, compute each replica's gradients on its shard, sum the
    gradients over replicas with ``allreduce``, then update every replica in place with
    ``p -= lr / N * summed_grad``: the replicas stay identical and equal one SGD step on the mean
    loss of the whole batch.

    Returns:
        None.
    """
    ### BEGIN SOLUTION
    X_shards, y_shards = split_batch(X, y, devices)
    grads_per_device = []
    for params, X_shard, y_shard in zip(params_per_device, X_shards, y_shards):
        loss = loss_fn(params, X_shard, y_shard)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads_per_device.append([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])
    for k in range(len(params_per_device[0])):
        allreduce([grads[k] for grads in grads_per_device])
    with torch.no_grad():
        for params, grads in zip(params_per_device, grads_per_device):
            for p, g in zip(params, grads):
                p -= lr / X.shape[0] * g
    return None
    ### END SOLUTION
