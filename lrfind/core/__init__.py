"""What a range test computes, in plain floats and numpy: no torch, matplotlib or rich.

curve (LR schedule, EMA, stop rule, the window suggestions look at), history
(what a sweep recorded), suggest (the suggestion methods), uncertainty (how
sure a suggestion is), plan (training schedules from the curve) and snippets
(how a scheduler call is written), priors (usual LRs per optimizer), repeats
(statistics over several sweeps), result (SweepResult: all of it together).
"""
