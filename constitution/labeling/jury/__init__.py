"""A jury of judges: its members' specs (:mod:`.config`), the run that has each judge label and combines their labels
(:mod:`.runner`), the votes read back per pair (:mod:`.votes`), inter-judge agreement (:mod:`.inter_judge`), the
summary (:mod:`.summary`) and its table (:mod:`.table`). Run it through :func:`constitution.labeling.label_dataset`."""
