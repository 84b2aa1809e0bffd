"""The same sweep as one rank of a torchrun job (torch.distributed is imported here).

cluster (joining the job, the ranks' hooks into the sweep), shard (each rank
its own share of the data; what DDP needs of the model), faults (one rank
fails: every rank stops, one says why).
"""
