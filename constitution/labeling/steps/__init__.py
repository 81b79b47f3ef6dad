"""Step labels for process rewards (``constitution label-steps``): ``labeler`` (one judge, step by step, through the
judgment cache), ``output`` (a run's files), ``jury`` (several judges combined) and ``run`` (one entry for either)."""
