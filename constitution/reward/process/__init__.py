"""Process reward models: a score per step of a reasoning trace.

``config`` (training settings), ``encoding`` (a trace -> token ids and the position read per step), ``metrics``
(aggregates, first error, best-of-n), ``model`` (a saved folder that scores steps), ``trainer`` (training on soft step
labels) and ``score`` (``constitution score-steps``).
"""
