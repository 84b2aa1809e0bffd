"""The range test itself, on a copy of the user's model (torch is imported here).

range_test (find_lr, and sweep_task: the one path of every sweep), loop (the
loop, one screen), recorder (losses -> history, when to stop), step (one
optimizer step: micro-batches, precision, compilation), batch (a batch -> a
loss, for every batch form), optim (the copy and its optimizer), task (what
build() returns, as one type), device (choosing it, moving batches), guards
(seeding and Ctrl-C), hints (fixes for the user's failures), evaluate (the
per-step validation pass, BatchNorm on batch statistics), adapters/ (a
transformers Trainer, a LightningModule, outputs that are not a tensor).
"""
