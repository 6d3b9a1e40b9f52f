"""What a learner or user runs, built on the library: the command line (``.cli``), the
character-level language model job (``.charlm``), the gradient-flow study (``.gradflow``)
and optional plotting (``.plotting``). Nothing in the library imports this package."""
