"""What a learner or user runs, built on the library: the command line (:mod:`.cli`), the
character-level language model job (:mod:`.charlm`), the gradient-flow study (:mod:`.gradflow`)
and optional plotting (:mod:`.plotting`). Nothing in the library imports this package."""
